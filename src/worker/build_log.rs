//! The build's log as the worker writes it.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{retry, Worker};
use crate::domain::version_spec::EnvVar;
use crate::storage::logs;

/// How many of the last output lines are kept apart, for telling what failed.
const TAIL_LINES: usize = 30;

/// What a secret value is replaced with in the log.
const MASK: &str = "********";

/// The build's log as the worker writes it: lines buffered and flushed in batches, capped at
/// `LOG_MAX_BYTES` with a closing line saying so. The worker's own lines always get in. Secret
/// values of the version never get in: output lines have them masked.
pub(super) struct BuildLog {
    worker: Arc<Worker>,
    build_id: String,
    pending: Vec<(DateTime<Utc>, String)>,
    bytes: usize,
    cut: bool,
    /// The last output lines, kept even once the log is cut.
    tail: VecDeque<String>,
    /// Secret values, longest first (so that one containing another is masked whole).
    secrets: Vec<String>,
}

impl BuildLog {
    pub(super) fn new(worker: Arc<Worker>, build_id: String) -> Self {
        BuildLog {
            worker,
            build_id,
            pending: Vec::new(),
            bytes: 0,
            cut: false,
            tail: VecDeque::new(),
            secrets: Vec::new(),
        }
    }

    /// From now on, the secret values among `vars` are masked in the output.
    pub(super) fn mask_secrets(&mut self, vars: &[EnvVar]) {
        self.secrets = vars
            .iter()
            .filter(|v| v.is_secret)
            .filter_map(|v| v.value.clone())
            .filter(|v| !v.is_empty())
            .collect();
        self.secrets.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// The last lines of output (masked), oldest first.
    pub(super) fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Whether output was left out because the log reached its limit.
    pub(super) fn was_cut(&self) -> bool {
        self.cut
    }

    /// A line of the build command's output.
    pub(super) fn output(&mut self, line: String) {
        let line = self.masked(line);
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
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

    fn masked(&self, mut line: String) -> String {
        for secret in &self.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), MASK);
            }
        }
        line
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
