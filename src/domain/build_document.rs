//! The JSON documents a build carries (`meta`, `options`, `stats`, `usage`, `usageUsd`,
//! `actVersion`), typed: read and written through these structs, never by string key. Fields
//! are declared in the order the API has always answered them (alphabetical), and measured
//! numbers stay `serde_json::Number`, so an integer Postgres wrote stays an integer.

use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

/// Memory of a build (and the default memory of an Actor's runs), in megabytes; a build's disk
/// is twice its memory. The compute-unit statements in `storage::queue` fall back to the same
/// figure for rows written without it.
pub const DEFAULT_MEMORY_MBYTES: u64 = 4096;

/// Who started the build and from where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildMeta {
    /// Absent when unknown (Apify's document types these as strings, never null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `API`, `WEB`, `CLI`, ...
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// How the build is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildOptions {
    pub beta_packages: bool,
    pub disk_mbytes: u64,
    pub memory_mbytes: u64,
    pub use_cache: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            beta_packages: false,
            disk_mbytes: 2 * DEFAULT_MEMORY_MBYTES,
            memory_mbytes: DEFAULT_MEMORY_MBYTES,
            use_cache: false,
        }
    }
}

/// What the build took; empty until it ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub compute_units: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub duration_millis: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub image_size_bytes: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub run_time_secs: Option<Number>,
}

/// Usage by kind, in compute units (`usage`) or in USD (`usageUsd`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Usage {
    #[serde(
        rename = "ACTOR_COMPUTE_UNITS",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<f64>)]
    pub actor_compute_units: Option<Number>,
}

impl Usage {
    /// Nothing used yet.
    pub fn none() -> Self {
        Usage {
            actor_compute_units: Some(Number::from(0)),
        }
    }
}

/// The version a build was made of, as it was when the build was created.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ActVersion {
    pub apply_env_vars_to_build: bool,
    pub build_tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_files_count: Option<usize>,
    pub source_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tarball_url: Option<String>,
    pub version_number: String,
}

/// The image a SUCCEEDED build made: its full name, its manifest's digest, and its size (the
/// manifest's layers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub name: String,
    pub digest: String,
    pub size_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The documents serialize exactly as the untyped ones did (keys sorted, integers kept).
    #[test]
    fn same_text_as_the_untyped_documents() {
        for (typed, untyped) in [
            (
                serde_json::to_string(&BuildStats {
                    compute_units: Some(Number::from(0)),
                    duration_millis: Some(Number::from(12)),
                    image_size_bytes: Some(Number::from(0)),
                    run_time_secs: Number::from_f64(0.5),
                }),
                json!({"durationMillis": 12, "runTimeSecs": 0.5, "computeUnits": 0, "imageSizeBytes": 0}),
            ),
            (serde_json::to_string(&BuildStats::default()), json!({})),
            (
                serde_json::to_string(&Usage::none()),
                json!({"ACTOR_COMPUTE_UNITS": 0}),
            ),
            (
                serde_json::to_string(&BuildOptions::default()),
                json!({"useCache": false, "betaPackages": false, "memoryMbytes": 4096, "diskMbytes": 8192}),
            ),
            (
                serde_json::to_string(&BuildMeta {
                    client_ip: None,
                    origin: "API".into(),
                    user_agent: Some("x".into()),
                }),
                // Unknown values are left out, as Apify's document has no null for them.
                json!({"origin": "API", "userAgent": "x"}),
            ),
        ] {
            assert_eq!(typed.ok(), serde_json::to_string(&untyped).ok());
        }
    }

    #[test]
    fn stored_documents_read_back() {
        let stats: BuildStats = serde_json::from_value(
            json!({"durationMillis": 5, "runTimeSecs": 0.25, "computeUnits": 1e-5, "imageSizeBytes": 0}),
        )
        .unwrap_or_default();
        assert_eq!(stats.duration_millis, Some(Number::from(5)));
        assert_eq!(
            serde_json::to_value(&stats).ok(),
            Some(
                json!({"durationMillis": 5, "runTimeSecs": 0.25, "computeUnits": 1e-5, "imageSizeBytes": 0})
            )
        );
    }
}
