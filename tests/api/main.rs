//! One integration-test binary: each test starts the real application on port 0 against a fresh
//! database and talks to it over HTTP.

mod helpers;

mod abort;
mod actors;
mod builds;
mod chaos;
mod console;
mod conventions;
mod key_value_stores;
mod outage;
mod pagination;
mod privacy;
mod secrets;
mod service;
mod sources;
mod status_machine;
mod users;
mod versions;
mod wait_for_finish;
mod wakeups;
mod worker;
mod worker_processes;
