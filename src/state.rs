//! What every handler of both faces is handed.

use std::sync::Arc;

use sqlx::PgPool;

use crate::events::waiters::Waiters;
use crate::events::BuildEvents;
use crate::rate_limit::RateLimiter;
use crate::settings::Settings;

pub struct AppState {
    pub pool: PgPool,
    pub events: BuildEvents,
    pub settings: Arc<Settings>,
    pub rate_limiter: Option<RateLimiter>,
    pub waiters: Waiters,
}

/// What the metrics listener reads.
pub struct MetricsState {
    pub pool: PgPool,
    pub waiters: Waiters,
}
