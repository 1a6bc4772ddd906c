//! Actor versions and their sources.

use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};

use crate::domain::version_spec::{EnvVar, SourceFile, SourceType, VersionSpec};
use crate::domain::VersionNumber;

#[derive(FromRow)]
struct VersionRow {
    version_number: String,
    source_type: String,
    build_tag: String,
    env_vars: Json<Vec<EnvVar>>,
    apply_env_vars_to_build: bool,
    source_files: Json<Vec<SourceFile>>,
    git_repo_url: Option<String>,
    tarball_url: Option<String>,
}

impl TryFrom<VersionRow> for VersionSpec {
    type Error = sqlx::Error;

    fn try_from(row: VersionRow) -> Result<Self, Self::Error> {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        Ok(VersionSpec {
            version_number: VersionNumber::parse(&row.version_number).map_err(decode)?,
            source_type: SourceType::parse(&row.source_type).map_err(decode)?,
            build_tag: row.build_tag,
            env_vars: row.env_vars.0,
            apply_env_vars_to_build: row.apply_env_vars_to_build,
            source_files: row.source_files.0,
            git_repo_url: row.git_repo_url,
            tarball_url: row.tarball_url,
        })
    }
}

const COLUMNS: &str = "version_number, source_type, build_tag, env_vars, apply_env_vars_to_build,
    source_files, git_repo_url, tarball_url";

/// What a build keeps of the version it built (`actVersion`): no sources, no env var values.
pub fn snapshot(v: &VersionSpec) -> Value {
    let mut out = json!({
        "versionNumber": v.version_number.as_str(),
        "sourceType": v.source_type.as_str(),
        "buildTag": v.build_tag,
        "applyEnvVarsToBuild": v.apply_env_vars_to_build,
    });
    match v.source_type {
        SourceType::SourceFiles => out["sourceFilesCount"] = json!(v.source_files.len()),
        SourceType::GitRepo => out["gitRepoUrl"] = json!(v.git_repo_url),
        SourceType::Tarball => out["tarballUrl"] = json!(v.tarball_url),
    }
    out
}

pub async fn list(
    db: impl PgExecutor<'_>,
    actor_id: &str,
) -> Result<Vec<VersionSpec>, sqlx::Error> {
    let rows: Vec<VersionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM versions WHERE actor_id = $1
         ORDER BY string_to_array(version_number, '.')::int[]"
    ))
    .bind(actor_id)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(VersionSpec::try_from).collect()
}

pub async fn get(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    version_number: &str,
) -> Result<Option<VersionSpec>, sqlx::Error> {
    let row: Option<VersionRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM versions WHERE actor_id = $1 AND version_number = $2"
    ))
    .bind(actor_id)
    .bind(version_number)
    .fetch_optional(db)
    .await?;
    row.map(VersionSpec::try_from).transpose()
}

/// Inserts a new version; a duplicate number fails with a unique violation of `versions_pkey`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    v: &VersionSpec,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO versions (actor_id, version_number, source_type, build_tag, env_vars,
            apply_env_vars_to_build, source_files, git_repo_url, tarball_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(actor_id)
    .bind(v.version_number.as_str())
    .bind(v.source_type.as_str())
    .bind(&v.build_tag)
    .bind(Json(&v.env_vars))
    .bind(v.apply_env_vars_to_build)
    .bind(Json(&v.source_files))
    .bind(&v.git_repo_url)
    .bind(&v.tarball_url)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the stored fields of an existing version; false when it is gone.
pub async fn update(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    v: &VersionSpec,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE versions SET source_type = $3, build_tag = $4, env_vars = $5,
            apply_env_vars_to_build = $6, source_files = $7, git_repo_url = $8, tarball_url = $9,
            modified_at = now()
         WHERE actor_id = $1 AND version_number = $2",
    )
    .bind(actor_id)
    .bind(v.version_number.as_str())
    .bind(v.source_type.as_str())
    .bind(&v.build_tag)
    .bind(Json(&v.env_vars))
    .bind(v.apply_env_vars_to_build)
    .bind(Json(&v.source_files))
    .bind(&v.git_repo_url)
    .bind(&v.tarball_url)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    version_number: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM versions WHERE actor_id = $1 AND version_number = $2")
        .bind(actor_id)
        .bind(version_number)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
