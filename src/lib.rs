//! actor-builds: a self-hostable build service for Apify Actors, speaking the Apify API v2.

pub mod build_events;
pub mod build_watch;
pub mod cli;
pub mod console;
pub mod domain;
pub mod error;
pub mod json;
pub mod metrics;
pub mod rate_limit;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod worker;
