//! A TCP proxy between the app and Postgres that a test can cut and restore.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct ChaosProxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Bumped on every cut: open connections watch it and close.
    cuts: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let target = target.to_owned();
        let accept_up = up.clone();
        let accept_cuts = cuts.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    drop(client); // refused while cut
                    continue;
                }
                let target = target.clone();
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut client_read, &mut server_write) => {}
                        _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        ChaosProxy { port, up, cuts }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use crate::helpers::proxied_url;

    #[test]
    fn the_proxied_url_keeps_all_but_the_server() {
        assert_eq!(
            proxied_url("postgres://postgres@127.0.0.1:5432/test_x", 40001),
            "postgres://postgres@127.0.0.1:40001/test_x"
        );
        assert_eq!(
            proxied_url(
                "postgres://jane:pw@db.example.com/test_y?sslmode=disable&host=/run/pg&port=6000",
                40002
            ),
            "postgres://jane:pw@127.0.0.1:40002/test_y?sslmode=disable"
        );
    }
}
