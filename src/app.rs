//! The application factory: the whole service (database, build events, build slots, the HTTP
//! server of both faces, the metrics listener) from settings and a listener (port 0 allowed).
//! `serve` and `worker` run it, and so do the tests, exactly. `/metrics` is served on a
//! listener of its own (`METRICS_BIND_ADDR`, loopback by default), never on the public one.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App as HttpApp, HttpResponse, HttpServer};
use sqlx::PgPool;

use crate::events::waiters::Waiters;
use crate::events::BuildEvents;
use crate::http::RequestSpan;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;
use crate::state::{AppState, MetricsState};
use crate::storage;
use crate::worker::executor::Executor;
use crate::worker::WorkerPool;

pub struct App {
    pool: PgPool,
    events: BuildEvents,
    workers: WorkerPool,
    http: Option<(u16, Server)>,
    metrics: Option<(u16, Server)>,
}

/// Creates the database when it is missing, applies the migrations and seals secret values
/// stored in clear by an older version; gives the service's pool.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    storage::create_database_if_missing(settings).await?;
    let pool = storage::pool(settings)?;
    storage::migrate(&pool).await?;
    let sealed = storage::versions::seal_clear_secrets(&pool, &settings.secrets).await?;
    if sealed > 0 {
        tracing::info!(
            versions = sealed,
            "sealed secret values stored in clear before"
        );
    }
    Ok(pool)
}

impl App {
    /// The whole service. With a `listener`, the API and the console are served on it; without
    /// one, only build slots run (and the metrics listener). Build slots run when
    /// `WORKER_CONCURRENCY > 0`.
    pub async fn build(
        settings: Arc<Settings>,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        Self::build_with(settings, listener, None).await
    }

    /// As `build`, with the build slots running builds through `executor` rather than the
    /// local one.
    pub async fn build_with(
        settings: Arc<Settings>,
        listener: Option<TcpListener>,
        executor: Option<Arc<dyn Executor>>,
    ) -> anyhow::Result<Self> {
        let pool = prepare_database(&settings).await?;
        // The HTTP servers run on runtimes of their own (one per actix worker thread): a
        // connection opened there dies with them. Their pool is not the workers', so that at
        // shutdown, once the servers have stopped, the workers still reach the database.
        let http_pool = storage::pool(&settings)?;
        let events = BuildEvents::start(pool.clone());
        let workers = match executor {
            Some(executor) => WorkerPool::start_with(
                pool.clone(),
                events.clone(),
                settings.worker.clone(),
                executor,
            ),
            None => WorkerPool::start(pool.clone(), events.clone(), settings.worker.clone()),
        };
        crate::metrics::install();
        let waiters = Waiters::new(http_pool.clone(), events.clone());
        let metrics = metrics_server(&settings, http_pool.clone(), waiters.clone())?;
        let http = match listener {
            Some(listener) => Some(http_server(
                settings.clone(),
                http_pool,
                events.clone(),
                waiters,
                listener,
            )?),
            None => None,
        };
        Ok(App {
            pool,
            events,
            workers,
            http,
            metrics,
        })
    }

    /// The port of the HTTP listener; `None` when only build slots run.
    pub fn port(&self) -> Option<u16> {
        self.http.as_ref().map(|(port, _)| *port)
    }

    /// The port of the metrics listener; `None` when `METRICS_BIND_ADDR=off`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The pool of the build slots and the build events, whose connections belong to the
    /// runtime that built the app (and so outlive the HTTP servers).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn events(&self) -> &BuildEvents {
        &self.events
    }

    /// The build slots (a handle: shutting them down here is what `run_until` would do).
    pub fn workers(&self) -> WorkerPool {
        self.workers.clone()
    }

    /// Serves until `shutdown` completes (or a server fails): then stops taking requests,
    /// finishing those under way, stops claiming builds, gives running builds the shutdown
    /// grace and aborts what is left.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let handles: Vec<_> = [&self.http, &self.metrics]
            .into_iter()
            .flatten()
            .map(|(_, server)| server.handle())
            .collect();
        let mut servers: Vec<_> = [self.http, self.metrics]
            .into_iter()
            .flatten()
            .map(|(_, server)| tokio::spawn(server))
            .collect();
        let (result, ended) = {
            // A process without listeners (a worker with METRICS_BIND_ADDR=off) runs until
            // `shutdown`: no server can end first.
            let first_to_end = async {
                if servers.is_empty() {
                    return std::future::pending().await;
                }
                let (ended, index, _) = futures_util::future::select_all(servers.iter_mut()).await;
                (
                    ended.unwrap_or_else(|e| Err(std::io::Error::other(e))),
                    Some(index),
                )
            };
            tokio::select! {
                ended = first_to_end => ended,
                () = shutdown => (Ok(()), None),
            }
        };
        for handle in handles {
            handle.stop(true).await;
        }
        // Every server but one that already ended (its task is done: it must not be awaited again).
        for (index, server) in servers.into_iter().enumerate() {
            if Some(index) != ended {
                let _ = server.await;
            }
        }
        self.workers.shutdown().await;
        result
    }
}

fn http_server(
    settings: Arc<Settings>,
    pool: PgPool,
    events: BuildEvents,
    waiters: Waiters,
    listener: TcpListener,
) -> std::io::Result<(u16, Server)> {
    let port = listener.local_addr()?.port();
    let state = web::Data::new(AppState {
        pool,
        events,
        rate_limiter: settings.rate_limit_per_second.map(RateLimiter::new),
        settings,
        waiters,
    });
    let server = HttpServer::new(move || {
        HttpApp::new()
            .wrap(RequestSpan)
            .app_data(state.clone())
            .service(web::scope("/console").configure(crate::console::configure))
            .configure(crate::api::configure)
            .default_service(web::to(crate::api::page_not_found))
    })
    .disable_signals()
    // A client that closes its side is gone: its request (a `waitForFinish`, a log stream)
    // is dropped at once rather than living on until its deadline.
    .h1_allow_half_closed(false)
    .listen(listener)?
    .run();
    Ok((port, server))
}

/// The metrics listener: `GET /metrics` in Prometheus text format, nothing else; `None` when
/// it is off or its address cannot be bound.
fn metrics_server(
    settings: &Settings,
    pool: PgPool,
    waiters: Waiters,
) -> std::io::Result<Option<(u16, Server)>> {
    let Some(addr) = settings.metrics_bind_addr else {
        return Ok(None);
    };
    // Metrics are no reason to refuse to serve or build: a taken address is logged loudly.
    let listener = match TcpListener::bind(addr) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%addr, error = %e, "metrics are off: METRICS_BIND_ADDR could not be bound");
            return Ok(None);
        }
    };
    let port = listener.local_addr()?.port();
    let state = web::Data::new(MetricsState { pool, waiters });
    let server = HttpServer::new(move || {
        HttpApp::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(crate::api::service::metrics))
            .default_service(web::to(HttpResponse::NotFound))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(%addr, port, "metrics listening");
    Ok(Some((port, server)))
}
