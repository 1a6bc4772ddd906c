//! An Actor version as a request describes it, and as it is once checked.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::VersionNumber;

/// A version in a request body: every field optional, so that PUT can change only what is given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionInput {
    pub version_number: Option<String>,
    pub source_type: Option<String>,
    pub build_tag: Option<String>,
    pub env_vars: Option<Vec<EnvVar>>,
    pub apply_env_vars_to_build: Option<bool>,
    pub source_files: Option<Vec<SourceFile>>,
    pub git_repo_url: Option<String>,
    pub tarball_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub is_secret: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileFormat {
    Text,
    Base64,
}

/// A source file, or a folder (`{name, folder: true}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SourceFile {
    // File first: an entry with content is a file even when it says `"folder": false`.
    File {
        name: String,
        format: FileFormat,
        content: String,
    },
    Folder {
        name: String,
        folder: bool,
    },
}

impl SourceFile {
    pub fn name(&self) -> &str {
        match self {
            SourceFile::Folder { name, .. } | SourceFile::File { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SourceType {
    SourceFiles,
    GitRepo,
    Tarball,
}

impl SourceType {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "SOURCE_FILES" => Ok(SourceType::SourceFiles),
            "GIT_REPO" => Ok(SourceType::GitRepo),
            "TARBALL" => Ok(SourceType::Tarball),
            other => Err(format!(
                "sourceType {other:?} is not supported; use SOURCE_FILES, GIT_REPO or TARBALL"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::SourceFiles => "SOURCE_FILES",
            SourceType::GitRepo => "GIT_REPO",
            SourceType::Tarball => "TARBALL",
        }
    }
}

/// A checked version, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSpec {
    pub version_number: VersionNumber,
    pub source_type: SourceType,
    pub build_tag: String,
    pub env_vars: Vec<EnvVar>,
    pub apply_env_vars_to_build: bool,
    pub source_files: Vec<SourceFile>,
    pub git_repo_url: Option<String>,
    pub tarball_url: Option<String>,
}

impl VersionSpec {
    /// A new version from a request (POST), or `existing` with the request's fields laid over it (PUT).
    /// Errors say which field is wrong.
    pub fn build(input: VersionInput, existing: Option<VersionSpec>) -> Result<Self, String> {
        let version_number = match (&input.version_number, &existing) {
            (Some(given), _) => VersionNumber::parse(given)?,
            (None, Some(old)) => old.version_number.clone(),
            (None, None) => return Err("versionNumber is required".into()),
        };
        if let (Some(old), Some(given)) = (&existing, &input.version_number) {
            if old.version_number.as_str() != given {
                return Err(format!(
                    "versionNumber {given:?} differs from the version being updated ({})",
                    old.version_number
                ));
            }
        }
        let source_type = match (&input.source_type, &existing) {
            (Some(given), _) => SourceType::parse(given)?,
            (None, Some(old)) => old.source_type,
            (None, None) => return Err("sourceType is required".into()),
        };
        let old = existing.as_ref();
        let build_tag = input
            .build_tag
            .or_else(|| old.map(|o| o.build_tag.clone()))
            .unwrap_or_else(|| "latest".into());
        check_tag(&build_tag).map_err(|e| format!("buildTag: {e}"))?;
        let env_vars = match input.env_vars {
            Some(given) => merge_secret_values(given, old.map(|o| o.env_vars.as_slice()))?,
            None => old.map(|o| o.env_vars.clone()).unwrap_or_default(),
        };
        let spec = VersionSpec {
            version_number,
            source_type,
            build_tag,
            env_vars,
            apply_env_vars_to_build: input
                .apply_env_vars_to_build
                .or(old.map(|o| o.apply_env_vars_to_build))
                .unwrap_or(false),
            source_files: input
                .source_files
                .or_else(|| old.map(|o| o.source_files.clone()))
                .unwrap_or_default(),
            git_repo_url: input
                .git_repo_url
                .or_else(|| old.and_then(|o| o.git_repo_url.clone())),
            tarball_url: input
                .tarball_url
                .or_else(|| old.and_then(|o| o.tarball_url.clone())),
        };
        spec.check_source()?;
        Ok(spec)
    }

    fn check_source(&self) -> Result<(), String> {
        match self.source_type {
            SourceType::SourceFiles => {
                for (i, file) in self.source_files.iter().enumerate() {
                    let name = file.name();
                    if name.trim().is_empty() {
                        return Err(format!("sourceFiles[{i}].name must not be empty"));
                    }
                    if let SourceFile::File {
                        format: FileFormat::Base64,
                        content,
                        ..
                    } = file
                    {
                        super::base64::decode(content).ok_or_else(|| {
                            format!("sourceFiles[{i}].content of {name:?} is not valid base64")
                        })?;
                    }
                }
                Ok(())
            }
            SourceType::GitRepo => match self.git_repo_url.as_deref() {
                Some(url) if !url.trim().is_empty() => Ok(()),
                _ => Err("gitRepoUrl is required for sourceType GIT_REPO".into()),
            },
            SourceType::Tarball => match self.tarball_url.as_deref() {
                Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(()),
                Some(_) => Err("tarballUrl must be an http:// or https:// URL".into()),
                None => Err("tarballUrl is required for sourceType TARBALL".into()),
            },
        }
    }
}

/// A variable sent back without its value (as a secret is shown) keeps the value stored before.
/// A secret stays secret then, whatever `isSecret` says: its value was never shown, and turning
/// it into a plain variable would show it. Only a request that gives a new value can make a
/// variable of that name non-secret.
fn merge_secret_values(given: Vec<EnvVar>, old: Option<&[EnvVar]>) -> Result<Vec<EnvVar>, String> {
    given
        .into_iter()
        .enumerate()
        .map(|(i, mut var)| {
            if var.name.trim().is_empty() {
                return Err(format!("envVars[{i}].name must not be empty"));
            }
            if var.value.is_none() {
                if let Some(before) = old.and_then(|vars| vars.iter().find(|o| o.name == var.name))
                {
                    var.value = before.value.clone();
                    var.is_secret |= before.is_secret;
                }
            }
            Ok(var)
        })
        .collect()
}

/// Tags: 1–64 characters of letters, digits, `.`, `_` and `-`.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1-64 characters of letters, digits, '.', '_' and '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> VersionInput {
        serde_json::from_value(json).unwrap_or_default()
    }

    #[test]
    fn new_version_needs_number_and_type() {
        let err = VersionSpec::build(
            input(serde_json::json!({"sourceType": "SOURCE_FILES"})),
            None,
        );
        assert_eq!(err.err().as_deref(), Some("versionNumber is required"));
        let err = VersionSpec::build(input(serde_json::json!({"versionNumber": "0.1"})), None);
        assert_eq!(err.err().as_deref(), Some("sourceType is required"));
        let err = VersionSpec::build(
            input(serde_json::json!({"versionNumber": "0.1", "sourceType": "GITHUB_GIST"})),
            None,
        );
        assert!(err.err().is_some_and(|e| e.contains("not supported")));
    }

    #[test]
    fn update_keeps_what_is_not_given() {
        let old = VersionSpec::build(
            input(
                serde_json::json!({"versionNumber": "0.1", "sourceType": "SOURCE_FILES",
                "buildTag": "beta", "envVars": [{"name": "K", "value": "s", "isSecret": true}]}),
            ),
            None,
        );
        assert!(old.is_ok());
        let new = VersionSpec::build(
            input(serde_json::json!({"envVars": [{"name": "K", "isSecret": true}]})),
            old.ok(),
        );
        let new = new.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(new.build_tag, "beta");
        assert_eq!(new.env_vars[0].value.as_deref(), Some("s"));
    }
}
