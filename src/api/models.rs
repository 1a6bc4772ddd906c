//! The shapes of the API's answers. Handlers serialize these types, and the service's OpenAPI
//! document is generated from them, so the two cannot drift apart.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::build_document::{ActVersion, BuildMeta, BuildOptions, BuildStats, Usage};
use crate::domain::timestamp::timestamp;
use crate::domain::version_spec::{EnvVar, SourceFile, VersionSpec};
use crate::domain::{AbortedBy, BuildStatus};
use crate::storage::actors::ActorRecord;
use crate::storage::builds::BuildRecord;
use crate::storage::users::User;

pub use crate::http::envelope::{Data, ErrorBody, ErrorDetail, Page};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub id: String,
    pub username: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// What anyone may read of a user (`GET /v2/users/{userId}`): the username and a profile,
/// which this service keeps empty.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPublicInfo {
    pub username: String,
    /// Apify's `bio`, `name`, `pictureUrl`, ...: none are kept here.
    #[schema(value_type = Object)]
    pub profile: serde_json::Map<String, Value>,
}

impl From<&User> for UserPublicInfo {
    fn from(user: &User) -> Self {
        UserPublicInfo {
            username: user.username.clone(),
            profile: serde_json::Map::new(),
        }
    }
}

impl From<&User> for UserInfo {
    fn from(user: &User) -> Self {
        UserInfo {
            id: user.id.to_string(),
            username: user.username.clone(),
            created_at: timestamp(&user.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    pub id: String,
    pub act_id: String,
    pub user_id: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    pub status: BuildStatus,
    /// `origin`, `clientIp`, `userAgent`
    #[schema(value_type = Object)]
    pub meta: BuildMeta,
    /// `durationMillis`, `runTimeSecs`, `computeUnits`, `imageSizeBytes` once finished
    #[schema(value_type = Object)]
    pub stats: BuildStats,
    /// `useCache`, `betaPackages`, `memoryMbytes`, `diskMbytes`
    #[schema(value_type = Object)]
    pub options: BuildOptions,
    /// `{ACTOR_COMPUTE_UNITS: number}`
    #[schema(value_type = Object)]
    pub usage: Usage,
    /// Shown only to a caller with a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_total_usd: Option<f64>,
    /// Shown only to a caller with a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage_usd: Option<Usage>,
    /// `MAJOR.MINOR.N`
    pub build_number: String,
    pub build_number_int: i32,
    /// The version built: `versionNumber`, `sourceType`, `buildTag` and the source reference.
    #[schema(value_type = Object)]
    pub act_version: ActVersion,
    /// The parsed `.actor/actor.json`, null until the sources were read.
    #[schema(value_type = Option<Object>)]
    pub actor_definition: Option<Value>,
    /// Deprecated: the input schema as a JSON string.
    pub input_schema: Option<String>,
    /// Deprecated: the README text.
    pub readme: Option<String>,
    #[schema(format = DateTime)]
    pub abort_requested_at: Option<String>,
    /// The user id that asked for the abort, or `SYSTEM`.
    #[schema(value_type = Option<String>)]
    pub aborted_by: Option<AbortedBy>,
    /// Extension: the image a SUCCEEDED build made,
    /// `{IMAGE_REPOSITORY}/{username}/{actor-name}:{buildNumber}`; null otherwise.
    #[schema(example = "registry.example.com/actors/jane/my-actor:0.1.3")]
    pub image_name: Option<String>,
    /// Extension: the digest of the image's manifest, as the registry reports it; null otherwise.
    #[schema(example = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    pub image_digest: Option<String>,
}

impl Build {
    /// `owner`: the caller is the build's owner (authenticated). For anyone else usage in USD is
    /// hidden and `actVersion` loses the credentials and signatures of its source URLs.
    pub fn new(b: &BuildRecord, owner: bool) -> Self {
        let show_usage_usd = owner;
        Build {
            id: b.id.to_string(),
            act_id: b.act_id.to_string(),
            user_id: b.user_id.to_string(),
            started_at: timestamp(&b.started_at),
            finished_at: b.finished_at.as_ref().map(timestamp),
            status: b.status,
            meta: b.meta.0.clone(),
            stats: b.stats.0.clone(),
            options: b.options.0.clone(),
            usage: b.usage.0.clone(),
            usage_total_usd: show_usage_usd.then_some(b.usage_total_usd),
            usage_usd: show_usage_usd.then(|| b.usage_usd.0.clone()),
            build_number: b.build_number(),
            build_number_int: b.build_number_int,
            act_version: if owner {
                b.act_version.0.clone()
            } else {
                crate::domain::redact::act_version_for_others(&b.act_version.0)
            },
            actor_definition: b.actor_definition.as_ref().map(|d| d.0.clone()),
            input_schema: b.input_schema.clone(),
            readme: b.readme.clone(),
            abort_requested_at: b.abort_requested_at.as_ref().map(timestamp),
            aborted_by: b.aborted_by.clone(),
            image_name: b.image_name.clone(),
            image_digest: b.image_digest.clone(),
        }
    }
}

/// A build in a list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildShort {
    pub id: String,
    pub act_id: String,
    pub user_id: String,
    pub status: BuildStatus,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    pub build_number: String,
    pub build_number_int: i32,
    pub usage_total_usd: f64,
    #[schema(value_type = Object)]
    pub meta: BuildMeta,
}

impl From<&BuildRecord> for BuildShort {
    fn from(b: &BuildRecord) -> Self {
        BuildShort {
            id: b.id.to_string(),
            act_id: b.act_id.to_string(),
            user_id: b.user_id.to_string(),
            status: b.status,
            started_at: timestamp(&b.started_at),
            finished_at: b.finished_at.as_ref().map(timestamp),
            build_number: b.build_number(),
            build_number_int: b.build_number_int,
            usage_total_usd: b.usage_total_usd,
            meta: b.meta.0.clone(),
        }
    }
}

/// An environment variable as shown: secret values never are.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub is_secret: bool,
}

impl From<&EnvVar> for EnvVarView {
    fn from(e: &EnvVar) -> Self {
        EnvVarView {
            name: e.name.clone(),
            value: if e.is_secret { None } else { e.value.clone() },
            is_secret: e.is_secret,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub version_number: String,
    /// `SOURCE_FILES`, `GIT_REPO` or `TARBALL`
    pub source_type: String,
    pub build_tag: String,
    pub env_vars: Vec<EnvVarView>,
    pub apply_env_vars_to_build: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_files: Option<Vec<SourceFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tarball_url: Option<String>,
}

impl From<&VersionSpec> for Version {
    fn from(v: &VersionSpec) -> Self {
        use crate::domain::version_spec::SourceType;
        Version {
            version_number: v.version_number.to_string(),
            source_type: v.source_type.as_str().to_owned(),
            build_tag: v.build_tag.clone(),
            env_vars: v.env_vars.iter().map(EnvVarView::from).collect(),
            apply_env_vars_to_build: v.apply_env_vars_to_build,
            source_files: (v.source_type == SourceType::SourceFiles)
                .then(|| v.source_files.clone()),
            git_repo_url: (v.source_type == SourceType::GitRepo)
                .then(|| v.git_repo_url.clone())
                .flatten(),
            tarball_url: (v.source_type == SourceType::Tarball)
                .then(|| v.tarball_url.clone())
                .flatten(),
        }
    }
}

/// The versions of an Actor (not paginated).
#[derive(Serialize, ToSchema)]
pub struct VersionList {
    pub total: usize,
    pub items: Vec<Version>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorStats {
    pub total_builds: i64,
    pub total_runs: i64,
    /// Absent: this service runs no Actors (Apify's document types it as a string, never null).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub last_run_started_at: Option<String>,
}

impl ActorStats {
    pub fn new(total_builds: i64) -> Self {
        ActorStats {
            total_builds,
            total_runs: 0,
            last_run_started_at: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaggedBuild {
    pub build_id: String,
    pub build_number: String,
    pub build_number_int: i32,
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub username: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub is_public: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub modified_at: String,
    pub stats: ActorStats,
    pub versions: Vec<Version>,
    /// `build`, `timeoutSecs`, `memoryMbytes`
    #[schema(value_type = Object)]
    pub default_run_options: Map<String, Value>,
    pub tagged_builds: std::collections::BTreeMap<String, TaggedBuild>,
}

/// An Actor in a list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorShort {
    pub id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub modified_at: String,
    pub name: String,
    pub username: String,
    /// Absent when the Actor has none (a string in Apify's document, never null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub stats: ActorStats,
}

impl ActorShort {
    pub fn new(a: &ActorRecord, total_builds: i64) -> Self {
        ActorShort {
            id: a.id.to_string(),
            created_at: timestamp(&a.created_at),
            modified_at: timestamp(&a.modified_at),
            name: a.name.clone(),
            username: a.username.clone(),
            title: a.title.clone(),
            stats: ActorStats::new(total_builds),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueStoreStats {
    pub read_count: i64,
    pub write_count: i64,
    pub delete_count: i64,
    pub list_count: i64,
    /// The sizes of the records' values, summed.
    pub s3_storage_bytes: i64,
}

/// A key-value store. Only its owner ever sees it, so `urlSigningSecretKey` is always shown.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueStore {
    pub id: String,
    pub name: Option<String>,
    pub user_id: String,
    pub username: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub modified_at: String,
    #[schema(format = DateTime)]
    pub accessed_at: String,
    /// Always null: stores here do not belong to Actor runs.
    pub act_id: Option<String>,
    /// Always null.
    pub act_run_id: Option<String>,
    pub stats: KeyValueStoreStats,
    /// Signs record URLs (`signature` query parameter) for reading without a token.
    pub url_signing_secret_key: String,
}

impl From<&crate::storage::key_value_stores::StoreRecord> for KeyValueStore {
    fn from(s: &crate::storage::key_value_stores::StoreRecord) -> Self {
        KeyValueStore {
            id: s.id.clone(),
            name: s.name.clone(),
            user_id: s.user_id.to_string(),
            username: s.username.clone(),
            created_at: timestamp(&s.created_at),
            modified_at: timestamp(&s.modified_at),
            accessed_at: timestamp(&s.accessed_at),
            act_id: None,
            act_run_id: None,
            stats: KeyValueStoreStats {
                read_count: s.read_count,
                write_count: s.write_count,
                delete_count: s.delete_count,
                list_count: s.list_count,
                s3_storage_bytes: s.storage_bytes,
            },
            url_signing_secret_key: s.url_signing_secret_key.clone(),
        }
    }
}

/// A record's value: bytes of any content type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RecordBytes(pub Vec<u8>);
