//! Actor versions and their sources.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};

use crate::domain::build_document::ActVersion;
use crate::domain::secret_box::SecretBox;
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

impl VersionRow {
    /// The version, its secret values opened.
    fn open(self, secrets: &SecretBox, actor_id: &str) -> Result<VersionSpec, sqlx::Error> {
        let mut spec = VersionSpec::try_from(self)?;
        for var in spec.env_vars.iter_mut().filter(|v| v.is_secret) {
            if let Some(stored) = &var.value {
                let plain = secrets
                    .open(&secret_context(actor_id, &var.name), stored)
                    .map_err(|e| sqlx::Error::Decode(e.into()))?;
                var.value = Some(plain);
            }
        }
        Ok(spec)
    }
}

/// Where a secret value belongs, bound into its sealing.
fn secret_context(actor_id: &str, name: &str) -> String {
    format!("{actor_id}\0{name}")
}

/// The versions that keep a secret value in clear.
pub(super) const WITH_CLEAR_SECRETS: &str = "SELECT actor_id, version_number FROM versions
     WHERE EXISTS (
         SELECT 1 FROM jsonb_array_elements(env_vars) AS e
         WHERE e->>'isSecret' = 'true' AND e->>'value' IS NOT NULL
           AND e->>'value' NOT LIKE 'enc:v1:%')";

/// Seals the secret values stored in clear before they were sealed at rest; run at start.
/// Returns how many versions were rewritten.
pub async fn seal_clear_secrets(
    pool: &sqlx::PgPool,
    secrets: &SecretBox,
) -> Result<u64, sqlx::Error> {
    let clear: Vec<(String, String)> = sqlx::query_as(WITH_CLEAR_SECRETS).fetch_all(pool).await?;
    let mut sealed = 0;
    for (actor_id, version_number) in clear {
        let mut tx = pool.begin().await?;
        if let Some(spec) = get(&mut *tx, secrets, &actor_id, &version_number).await? {
            if update(&mut *tx, secrets, &actor_id, &spec).await? {
                sealed += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(sealed)
}

/// The env vars as they are stored: secret values sealed.
fn sealed_env_vars(secrets: &SecretBox, actor_id: &str, vars: &[EnvVar]) -> Vec<EnvVar> {
    vars.iter()
        .map(|var| {
            let mut var = var.clone();
            if var.is_secret {
                if let Some(plain) = &var.value {
                    var.value = Some(secrets.seal(&secret_context(actor_id, &var.name), plain));
                }
            }
            var
        })
        .collect()
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

/// What a build keeps of the version it built (`actVersion`): no sources, no env var values.
pub fn snapshot(v: &VersionSpec) -> ActVersion {
    let mut out = ActVersion {
        version_number: v.version_number.as_str().to_owned(),
        source_type: v.source_type.as_str().to_owned(),
        build_tag: v.build_tag.clone(),
        apply_env_vars_to_build: v.apply_env_vars_to_build,
        ..ActVersion::default()
    };
    match v.source_type {
        SourceType::SourceFiles => out.source_files_count = Some(v.source_files.len()),
        SourceType::GitRepo => out.git_repo_url = v.git_repo_url.clone(),
        SourceType::Tarball => out.tarball_url = v.tarball_url.clone(),
    }
    out
}

/// An Actor's versions in the order of their numbers (0.2 before 0.10).
pub(super) const LIST: &str =
    "SELECT version_number, source_type, build_tag, env_vars, apply_env_vars_to_build,
        source_files, git_repo_url, tarball_url
     FROM versions WHERE actor_id = $1
     ORDER BY string_to_array(version_number, '.')::int[]";

pub async fn list(
    db: impl PgExecutor<'_>,
    secrets: &SecretBox,
    actor_id: &str,
) -> Result<Vec<VersionSpec>, sqlx::Error> {
    let rows: Vec<VersionRow> = sqlx::query_as(LIST).bind(actor_id).fetch_all(db).await?;
    rows.into_iter()
        .map(|row| row.open(secrets, actor_id))
        .collect()
}

pub(super) const GET: &str =
    "SELECT version_number, source_type, build_tag, env_vars, apply_env_vars_to_build,
        source_files, git_repo_url, tarball_url
     FROM versions WHERE actor_id = $1 AND version_number = $2";

pub async fn get(
    db: impl PgExecutor<'_>,
    secrets: &SecretBox,
    actor_id: &str,
    version_number: &str,
) -> Result<Option<VersionSpec>, sqlx::Error> {
    let row: Option<VersionRow> = sqlx::query_as(GET)
        .bind(actor_id)
        .bind(version_number)
        .fetch_optional(db)
        .await?;
    row.map(|row| row.open(secrets, actor_id)).transpose()
}

pub(super) const MODIFIED_AT: &str =
    "SELECT modified_at FROM versions WHERE actor_id = $1 AND version_number = $2";

/// When the version was last changed; images built from it carry this time (reproducible builds).
pub async fn modified_at(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    version_number: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(MODIFIED_AT)
        .bind(actor_id)
        .bind(version_number)
        .fetch_optional(db)
        .await
}

pub(super) const INSERT: &str =
    "INSERT INTO versions (actor_id, version_number, source_type, build_tag, env_vars,
        apply_env_vars_to_build, source_files, git_repo_url, tarball_url)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Inserts a new version; a duplicate number fails with a unique violation of `versions_pkey`.
pub async fn insert(
    db: impl PgExecutor<'_>,
    secrets: &SecretBox,
    actor_id: &str,
    v: &VersionSpec,
) -> Result<(), sqlx::Error> {
    sqlx::query(INSERT)
        .bind(actor_id)
        .bind(v.version_number.as_str())
        .bind(v.source_type.as_str())
        .bind(&v.build_tag)
        .bind(Json(sealed_env_vars(secrets, actor_id, &v.env_vars)))
        .bind(v.apply_env_vars_to_build)
        .bind(Json(&v.source_files))
        .bind(&v.git_repo_url)
        .bind(&v.tarball_url)
        .execute(db)
        .await?;
    Ok(())
}

pub(super) const UPDATE: &str =
    "UPDATE versions SET source_type = $3, build_tag = $4, env_vars = $5,
        apply_env_vars_to_build = $6, source_files = $7, git_repo_url = $8, tarball_url = $9,
        modified_at = now()
     WHERE actor_id = $1 AND version_number = $2";

/// Replaces the stored fields of an existing version; false when it is gone.
pub async fn update(
    db: impl PgExecutor<'_>,
    secrets: &SecretBox,
    actor_id: &str,
    v: &VersionSpec,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(UPDATE)
        .bind(actor_id)
        .bind(v.version_number.as_str())
        .bind(v.source_type.as_str())
        .bind(&v.build_tag)
        .bind(Json(sealed_env_vars(secrets, actor_id, &v.env_vars)))
        .bind(v.apply_env_vars_to_build)
        .bind(Json(&v.source_files))
        .bind(&v.git_repo_url)
        .bind(&v.tarball_url)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) const DELETE: &str = "DELETE FROM versions WHERE actor_id = $1 AND version_number = $2";

pub async fn delete(
    db: impl PgExecutor<'_>,
    actor_id: &str,
    version_number: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(DELETE)
        .bind(actor_id)
        .bind(version_number)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
