//! The application factory: builds the HTTP server from settings and a listener (port 0 allowed),
//! so that tests run exactly what `serve` runs.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use sqlx::PgPool;

use crate::build_events::BuildEvents;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::settings::Settings;

pub struct AppState {
    pub pool: PgPool,
    pub events: BuildEvents,
    pub settings: Arc<Settings>,
    pub rate_limiter: Option<RateLimiter>,
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `settings.bind_addr`.
    pub fn build(
        settings: Arc<Settings>,
        pool: PgPool,
        events: BuildEvents,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind_addr)?;
        Self::with_listener(settings, pool, events, listener)
    }

    pub fn with_listener(
        settings: Arc<Settings>,
        pool: PgPool,
        events: BuildEvents,
        listener: TcpListener,
    ) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        crate::metrics::install();
        let state = web::Data::new(AppState {
            pool,
            events,
            rate_limiter: settings.rate_limit_per_second.map(RateLimiter::new),
            settings,
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(routes::RequestSpan)
                .app_data(state.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::page_not_found))
        })
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (gracefully or not).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
