//! The application factory: builds the HTTP server from settings and a listener (port 0 allowed),
//! so that tests run exactly what `serve` runs. `/metrics` is served on a listener of its own
//! (`METRICS_BIND_ADDR`, loopback by default), never on the public one.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpResponse, HttpServer};
use sqlx::PgPool;

use crate::build_events::BuildEvents;
use crate::build_watch::Waiters;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::settings::Settings;

pub struct AppState {
    pub pool: PgPool,
    pub events: BuildEvents,
    pub settings: Arc<Settings>,
    pub rate_limiter: Option<RateLimiter>,
    pub waiters: Waiters,
}

pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<MetricsServer>,
}

impl Application {
    /// Binds `settings.bind_addr` (and `settings.metrics_bind_addr`).
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
        let waiters = Waiters::new(pool.clone(), events.clone());
        let metrics = MetricsServer::start(&settings, pool.clone(), waiters.clone())?;
        let state = web::Data::new(AppState {
            pool,
            events,
            rate_limiter: settings.rate_limit_per_second.map(RateLimiter::new),
            settings,
            waiters,
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(routes::RequestSpan)
                .app_data(state.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::page_not_found))
        })
        .disable_signals()
        // A client that closes its side is gone: its request (a `waitForFinish`, a log stream)
        // is dropped at once rather than living on until its deadline.
        .h1_allow_half_closed(false)
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener; `None` when `METRICS_BIND_ADDR=off`.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port)
    }

    /// A handle to stop the server (gracefully or not); the metrics listener stops with it.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some(metrics) = self.metrics else {
            return self.server.await;
        };
        let metrics_handle = metrics.server.handle();
        let metrics_task = tokio::spawn(metrics.server);
        let result = self.server.await;
        metrics_handle.stop(false).await;
        let _ = metrics_task.await;
        result
    }
}

/// What the metrics listener reads.
pub struct MetricsState {
    pub pool: PgPool,
    pub waiters: Waiters,
}

/// The metrics listener: `GET /metrics` in Prometheus text format, nothing else.
pub struct MetricsServer {
    port: u16,
    server: Server,
}

impl MetricsServer {
    /// Binds `settings.metrics_bind_addr`; `None` when it is off or cannot be bound.
    pub fn start(
        settings: &Settings,
        pool: PgPool,
        waiters: Waiters,
    ) -> std::io::Result<Option<Self>> {
        let Some(addr) = settings.metrics_bind_addr else {
            return Ok(None);
        };
        crate::metrics::install();
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
            App::new()
                .app_data(state.clone())
                .route("/metrics", web::get().to(routes::service::metrics))
                .default_service(web::to(HttpResponse::NotFound))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        tracing::info!(%addr, port, "metrics listening");
        Ok(Some(MetricsServer { port, server }))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped through `handle`.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
