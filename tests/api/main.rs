//! One integration-test binary: each test starts the real application on port 0 against a fresh
//! database and talks to it over HTTP.

mod helpers;
mod registry;

mod abort;
mod actors;
mod app;
mod builds;
mod chaos;
mod console;
mod conventions;
mod fixtures;
mod image_templates;
mod images;
mod isolation;
mod key_value_stores;
mod log_bytes;
mod metrics_access;
mod outage;
mod pagination;
mod panics;
mod privacy;
mod secrets;
mod self_fencing;
mod service;
mod source_limits;
mod sources;
mod stand_ins;
mod statements;
mod status_machine;
mod users;
mod versions;
mod wait_for_finish;
mod waiters;
mod wakeups;
mod worker;
mod worker_processes;
