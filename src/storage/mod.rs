//! All SQL lives here, one module per table group.

pub mod actors;
pub mod builds;
pub mod console_sessions;
pub mod key_value_stores;
pub mod logs;
pub mod queue;
pub mod users;
pub mod versions;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use std::str::FromStr;

use crate::settings::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool to the configured database; it is not connected until first use.
pub fn pool(settings: &Settings) -> Result<PgPool, sqlx::Error> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&settings.database_url.0)?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.database_pool_size)
        .acquire_timeout(settings.database_acquire_timeout)
        // No ping before every query: a broken connection fails its query (503) and is dropped.
        .test_before_acquire(false)
        .connect_lazy_with(options))
}

/// Creates the configured database when it does not exist yet (connecting to `postgres` for that).
pub async fn create_database_if_missing(settings: &Settings) -> anyhow::Result<()> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&settings.database_url.0)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match admin
            .execute(format!("CREATE DATABASE {quoted}").as_str())
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another process created it at the same moment.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// True when the error is a unique violation of the named constraint.
pub fn is_unique_violation(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint))
}
