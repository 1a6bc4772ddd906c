//! actor-builds: a self-hostable build service for Apify Actors, speaking the Apify API v2.
//!
//! Layers, each importing only from those below it: `cli` → `app` → the two faces (`api`,
//! `console`) and `worker` → `service` → `storage` → `domain`; `http` sits under both faces, and
//! `state`, `events`, `metrics`, `rate_limit`, `settings` and `telemetry` under all of them.

pub mod api;
pub mod app;
pub mod cli;
pub mod console;
pub mod domain;
pub mod events;
pub mod http;
pub mod metrics;
pub mod rate_limit;
pub mod service;
pub mod settings;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod worker;
