//! Every statement of the storage layer prepares against the migrated schema, so that a typo in a
//! rarely taken branch (a rescue, a filtered list) fails here and not in production.

use actor_builds::storage;
use sqlx::{Connection, Executor, PgConnection};

use crate::helpers;

#[tokio::test]
async fn every_statement_prepares_against_the_migrated_schema() {
    let (name, url) = helpers::fresh_database().await;
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    storage::migrate(&pool).await.expect("migrate");
    pool.close().await;

    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let statements = storage::all_statements();
    assert!(statements.len() > 50, "{} statements", statements.len());
    let mut failures = Vec::new();
    for (statement, sql) in &statements {
        // A server-side PREPARE: parsed, planned against the schema, parameter types inferred.
        if let Err(e) = conn.prepare(sql.as_str()).await {
            failures.push(format!("{statement}: {e}\n    {sql}"));
        }
    }
    conn.close().await.ok();
    helpers::drop_database(&name).await;
    assert!(
        failures.is_empty(),
        "{} of {} statements do not prepare:\n{}",
        failures.len(),
        statements.len(),
        failures.join("\n")
    );
}
