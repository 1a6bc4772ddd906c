//! The build's log as the worker writes it.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{retry, Worker};
use crate::storage::logs;

/// The build's log as the worker writes it: lines buffered and flushed in batches, capped at
/// `LOG_MAX_BYTES` with a closing line saying so. The worker's own lines always get in.
pub(super) struct BuildLog {
    worker: Arc<Worker>,
    build_id: String,
    pending: Vec<(DateTime<Utc>, String)>,
    bytes: usize,
    cut: bool,
}

impl BuildLog {
    pub(super) fn new(worker: Arc<Worker>, build_id: String) -> Self {
        BuildLog {
            worker,
            build_id,
            pending: Vec::new(),
            bytes: 0,
            cut: false,
        }
    }

    /// A line of the build command's output.
    pub(super) fn output(&mut self, line: String) {
        if self.cut {
            return;
        }
        let size = line.len() + 1;
        if self.bytes + size > self.worker.settings.log_max_bytes {
            self.cut = true;
            self.pending.push((
                Utc::now(),
                format!(
                    "The log was cut here: it reached its limit of {} bytes",
                    self.worker.settings.log_max_bytes
                ),
            ));
            return;
        }
        self.bytes += size;
        self.pending.push((Utc::now(), line));
    }

    /// A line of the worker's own.
    pub(super) fn system(&mut self, line: String) {
        self.pending.push((Utc::now(), line));
    }

    pub(super) async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let lines = std::mem::take(&mut self.pending);
        let (pool, id, worker_id) = (&self.worker.pool, &self.build_id, &self.worker.worker_id);
        if let Err(e) = retry("writing the log", || {
            logs::append(pool, id, worker_id, &lines)
        })
        .await
        {
            tracing::error!(error = %e, lines = lines.len(), "log lines were lost");
        }
    }
}
