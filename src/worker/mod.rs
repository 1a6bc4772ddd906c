//! Build workers: claim READY builds, run them, stop them on abort or timeout.

pub mod actor_definition;
pub mod sources;

use sqlx::PgPool;

use crate::build_events::BuildEvents;
use crate::settings::WorkerSettings;

pub struct WorkerPool {}

impl WorkerPool {
    pub fn start(_pool: PgPool, _events: BuildEvents, _settings: WorkerSettings) -> Self {
        WorkerPool {}
    }

    pub async fn shutdown(self) {}
}
