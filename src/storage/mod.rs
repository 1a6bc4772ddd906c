//! All SQL lives here, one module per table group. Each statement is a `const` (or, when it takes
//! moves from `BuildStatus`, a template filled once by `status_sql`) beside the function that
//! runs it, and [`all_statements`] lists every one of them, so that a test can prepare each against
//! the migrated schema and the benchmarks can run the very same text.

pub mod actors;
pub mod builds;
pub mod console_sessions;
pub mod key_value_stores;
pub mod logs;
pub mod queue;
pub mod status_sql;
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

const DATABASE_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)";

/// Creates the configured database when it does not exist yet (connecting to `postgres` for that).
pub async fn create_database_if_missing(settings: &Settings) -> anyhow::Result<()> {
    let options = sqlx::postgres::PgConnectOptions::from_str(&settings.database_url.0)?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = PgConnection::connect_with(&options.clone().database("postgres")).await?;
    let exists: bool = sqlx::query_scalar(DATABASE_EXISTS)
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        // The one statement not in `all_statements`: a name of a database cannot be a parameter,
        // and CREATE DATABASE cannot be prepared.
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

/// `(name, SQL)` of each listed statement; the name is `module::CONST`.
macro_rules! statements {
    ($($module:ident :: $name:ident),* $(,)?) => {
        [$((
            concat!(stringify!($module), "::", stringify!($name)),
            $module::$name.to_string(),
        )),*]
    };
}

/// Every statement of the storage layer, by name (`module::CONST`), as it is sent to Postgres.
/// A test prepares each against the migrated schema; `actor-builds statements` prints them for the
/// benchmarks.
pub fn all_statements() -> Vec<(&'static str, String)> {
    let mut all = vec![("DATABASE_EXISTS", DATABASE_EXISTS.to_owned())];
    all.extend(statements![
        actors::FIND_BY_ID,
        actors::FIND_BY_NAME,
        actors::INSERT,
        actors::UPDATE,
        actors::TOUCH,
        actors::DELETE,
        actors::LIST_ASC,
        actors::LIST_DESC,
        actors::COUNT,
        actors::TOTAL_BUILDS,
        actors::TAGS,
        actors::SET_TAG,
        actors::REMOVE_TAG,
        actors::FIND_ANY_BY_ID,
        actors::FIND_ANY_BY_NAME,
        builds::NEXT_NUMBER,
        builds::INSERT,
        builds::GET,
        builds::GET_FOR_USER,
        builds::LIST_OF_USER_ASC,
        builds::LIST_OF_USER_DESC,
        builds::LIST_OF_ACTOR_ASC,
        builds::LIST_OF_ACTOR_DESC,
        builds::COUNT_OF_USER,
        builds::COUNT_OF_ACTOR,
        builds::LIST_FILTERED,
        builds::COUNT_FILTERED,
        builds::GET_MANY_FOR_USER,
        builds::ABORT,
        builds::LOCK_STATUS,
        builds::A_TAG_OF,
        builds::DELETE,
        builds::FIND_BY_TAG,
        builds::FIND_BY_NUMBER,
        console_sessions::CREATE,
        console_sessions::USER,
        console_sessions::DELETE,
        console_sessions::SWEEP,
        key_value_stores::FIND_BY_ID,
        key_value_stores::FIND_BY_NAME,
        key_value_stores::FIND_OF_USER,
        key_value_stores::INSERT,
        key_value_stores::PUT_RECORD,
        key_value_stores::COUNT_WRITE,
        key_value_stores::GET_RECORD,
        key_value_stores::DELETE_RECORD,
        logs::READ_AFTER,
        logs::APPEND,
        queue::CLAIM,
        queue::HEARTBEAT,
        queue::HELD_STATUS,
        queue::MOVE_HELD,
        queue::SAVE_DEFINITION,
        queue::FINISH,
        queue::LOCK_HELD,
        queue::RESCUER_TRY_LOCK,
        queue::RESCUE,
        queue::RESCUE_LOG_LINES,
        queue::UNFINISHED_AMONG,
        queue::READY_OR_HELD,
        queue::DEPTH,
        users::CREATE_USER,
        users::FIND_BY_USERNAME,
        users::FIND_BY_ID_OR_USERNAME,
        users::CREATE_TOKEN,
        users::USER_BY_TOKEN,
        users::REVOKE_BY_HASH,
        users::LOCK_BY_PREFIX,
        users::REVOKE,
        versions::WITH_CLEAR_SECRETS,
        versions::LIST,
        versions::GET,
        versions::MODIFIED_AT,
        versions::INSERT,
        versions::UPDATE,
        versions::DELETE,
    ]);
    all
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::all_statements;

    /// The sources of the storage modules, by module name (`mod` for this file).
    const SOURCES: &[(&str, &str)] = &[
        ("mod", include_str!("mod.rs")),
        ("actors", include_str!("actors.rs")),
        ("builds", include_str!("builds.rs")),
        ("console_sessions", include_str!("console_sessions.rs")),
        ("key_value_stores", include_str!("key_value_stores.rs")),
        ("logs", include_str!("logs.rs")),
        ("queue", include_str!("queue.rs")),
        ("status_sql", include_str!("status_sql.rs")),
        ("users", include_str!("users.rs")),
        ("versions", include_str!("versions.rs")),
    ];

    /// String constants that are not statements.
    const NOT_SQL: &[&str] = &["logs::REFUSED_LINE"];

    /// A source without its tests.
    fn code(source: &str) -> &str {
        source.split("#[cfg(test)]").next().unwrap_or(source)
    }

    /// Names (`module::NAME`) of the `&str` consts and `LazyLock<String>` statics of a source.
    fn declared(module: &str, source: &str) -> Vec<String> {
        code(source)
            .lines()
            .filter_map(|line| {
                let line = line.trim_start();
                let line = line
                    .strip_prefix("pub(super) ")
                    .or_else(|| line.strip_prefix("pub(crate) "))
                    .or_else(|| line.strip_prefix("pub "))
                    .unwrap_or(line);
                let rest = line
                    .strip_prefix("const ")
                    .or_else(|| line.strip_prefix("static "))?;
                let (name, ty) = rest.split_once(':')?;
                let ty = ty.trim_start();
                (ty.starts_with("&str") || ty.starts_with("LazyLock<String>")).then(|| {
                    if module == "mod" {
                        name.trim().to_owned()
                    } else {
                        format!("{module}::{}", name.trim())
                    }
                })
            })
            .collect()
    }

    #[test]
    fn every_statement_is_listed_once() {
        let listed: Vec<&str> = all_statements().into_iter().map(|(name, _)| name).collect();
        let unique: BTreeSet<&str> = listed.iter().copied().collect();
        assert_eq!(unique.len(), listed.len(), "a statement is listed twice");
        for (module, source) in SOURCES {
            for name in declared(module, source) {
                // Templates are listed as the statement they fill.
                if name.ends_with("_TEMPLATE") || NOT_SQL.contains(&name.as_str()) {
                    continue;
                }
                assert!(
                    unique.contains(name.as_str()),
                    "{name} is not in storage::all_statements()"
                );
            }
        }
    }

    #[test]
    fn no_statement_is_written_inline() {
        for (module, source) in SOURCES {
            let squashed: String = code(source).split_whitespace().collect();
            for call in ["query(", "query_as(", "query_scalar("] {
                for inline in ["\"", "&format!", "format!"] {
                    let pattern = format!("{call}{inline}");
                    assert!(
                        !squashed.contains(&pattern),
                        "storage/{module}.rs passes SQL to {call}) inline; make it a const"
                    );
                }
            }
        }
    }
}
