//! Typed settings: defaults in code, overrides from the environment (and `.env`), checked at start.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::domain::secret_box::SecretBox;

mod image;

pub use image::{BuilderChoice, ImageSettings, RunIsolation};

#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {problem}")]
pub struct SettingsError {
    pub key: &'static str,
    pub problem: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL with any password replaced, for logs and `Debug`.
    pub fn redacted(&self) -> String {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &self.0[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{}:***{}", &self.0[..scheme_end + 3], user, &self.0[at..])
                    }
                    None => self.0.clone(),
                }
            }
            _ => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind_addr: SocketAddr,
    pub database_pool_size: u32,
    pub database_acquire_timeout: Duration,
    pub log_format: LogFormat,
    pub worker: WorkerSettings,
    /// Requests per second per token; `None` when rate limiting is off.
    pub rate_limit_per_second: Option<f64>,
    /// Seals secret values at rest (`SECRETS_KEY`, or the key file `SECRETS_KEY_FILE`).
    pub secrets: SecretBox,
    /// Where `/metrics` is served (`METRICS_BIND_ADDR`, loopback by default); `None` when `off`.
    pub metrics_bind_addr: Option<SocketAddr>,
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Build slots of this process; 0 runs the API only.
    pub concurrency: usize,
    pub poll_interval: Duration,
    pub heartbeat: Duration,
    pub abort_grace: Duration,
    pub build_timeout: Duration,
    /// The builder, where its images go, and how `RUN` steps are isolated.
    pub image: ImageSettings,
    pub log_max_bytes: usize,
    pub work_dir: PathBuf,
    pub tarball_max_bytes: u64,
    /// How long running builds may go on after SIGTERM/SIGINT before they are aborted.
    pub shutdown_grace: Duration,
    pub compute_unit_price_usd: f64,
    /// Opens secret values for the builds.
    pub secrets: SecretBox,
    /// The most bytes a build's sources may unpack to.
    pub source_max_unpacked_bytes: u64,
    /// The most entries (files, folders, links) a build's sources may have.
    pub source_max_entries: u64,
    /// Whether sources may be fetched from loopback, private and link-local addresses.
    pub source_allow_private_targets: bool,
    /// How build processes are kept apart from the host and ended (`BUILD_ISOLATION`).
    pub build_isolation: BuildIsolation,
}

/// `BUILD_ISOLATION`: `namespaces` (own PID and mount namespaces, own /proc), `processes`
/// (a local process group plus a scan for the build's marked processes), or `auto` (namespaces
/// when the host allows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildIsolation {
    Auto,
    Namespaces,
    Processes,
}

impl WorkerSettings {
    /// A lease lasts three heartbeats.
    pub fn lease(&self) -> Duration {
        self.heartbeat * 3
    }
}

impl Settings {
    /// Settings from the process environment (after `.env` was loaded by the caller).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let read = Reader { get: &get };
        let compute_unit_price_usd: f64 = read.parse("COMPUTE_UNIT_PRICE_USD", 0.25)?;
        if !(compute_unit_price_usd.is_finite() && compute_unit_price_usd >= 0.0) {
            return Err(SettingsError {
                key: "COMPUTE_UNIT_PRICE_USD",
                problem: "must be a number of at least 0".into(),
            });
        }
        let database_url = read
            .string("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/actor_builds".into());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(SettingsError {
                key: "DATABASE_URL",
                problem: "must start with postgres:// or postgresql://".into(),
            });
        }
        let secrets = secrets_key(&read)?;
        let log_format = match read.string("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(SettingsError {
                    key: "LOG_FORMAT",
                    problem: format!("{other:?} is neither \"pretty\" nor \"json\""),
                })
            }
        };
        let pool: u32 = read.parse("DATABASE_POOL_SIZE", 10)?;
        if pool == 0 {
            return Err(SettingsError {
                key: "DATABASE_POOL_SIZE",
                problem: "must be at least 1".into(),
            });
        }
        let heartbeat_secs: u64 = read.parse("HEARTBEAT_SECS", 5)?;
        if heartbeat_secs == 0 {
            return Err(SettingsError {
                key: "HEARTBEAT_SECS",
                problem: "must be at least 1".into(),
            });
        }
        let rate_limit: f64 = read.parse("RATE_LIMIT_PER_SECOND", 0.0)?;
        if !(rate_limit.is_finite() && rate_limit >= 0.0) {
            return Err(SettingsError {
                key: "RATE_LIMIT_PER_SECOND",
                problem: "must be a number of at least 0 (0 turns rate limiting off)".into(),
            });
        }
        let metrics_bind_addr = match read.string("METRICS_BIND_ADDR").as_deref() {
            Some("off") => None,
            _ => Some(read.parse(
                "METRICS_BIND_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 9464)),
            )?),
        };
        let work_dir = read
            .string("WORK_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("actor-builds"));
        Ok(Settings {
            metrics_bind_addr,
            rate_limit_per_second: (rate_limit > 0.0).then_some(rate_limit),
            secrets: secrets.clone(),
            database_url: DatabaseUrl(database_url),
            bind_addr: read.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            database_pool_size: pool,
            database_acquire_timeout: Duration::from_millis(
                read.parse("DATABASE_ACQUIRE_TIMEOUT_MS", 2000)?,
            ),
            log_format,
            worker: WorkerSettings {
                concurrency: read.parse("WORKER_CONCURRENCY", 2)?,
                poll_interval: Duration::from_millis(read.parse("POLL_INTERVAL_MS", 1000)?.max(1)),
                heartbeat: Duration::from_secs(heartbeat_secs),
                abort_grace: Duration::from_secs_f64(read.parse_secs("ABORT_GRACE_SECS", 10.0)?),
                build_timeout: Duration::from_secs_f64(
                    read.parse_secs("BUILD_TIMEOUT_SECS", 1800.0)?,
                ),
                image: ImageSettings::read(&read, &work_dir)?,
                log_max_bytes: read.parse("LOG_MAX_BYTES", 10 * 1024 * 1024)?,
                work_dir,
                tarball_max_bytes: read.parse("TARBALL_MAX_BYTES", 100 * 1024 * 1024)?,
                shutdown_grace: Duration::from_secs_f64(
                    read.parse_secs("SHUTDOWN_GRACE_SECS", 10.0)?,
                ),
                compute_unit_price_usd,
                secrets,
                source_max_unpacked_bytes: read
                    .parse("SOURCE_MAX_UNPACKED_BYTES", 1024 * 1024 * 1024)?,
                source_max_entries: read.parse("SOURCE_MAX_ENTRIES", 100_000)?,
                source_allow_private_targets: read.parse("SOURCE_ALLOW_PRIVATE_TARGETS", false)?,
                build_isolation: match read.string("BUILD_ISOLATION").as_deref() {
                    // `chroot` is about `RUN` steps (see `ImageSettings`); processes as `auto`.
                    None | Some("auto") | Some("chroot") => BuildIsolation::Auto,
                    Some("namespaces") => BuildIsolation::Namespaces,
                    Some("processes") => BuildIsolation::Processes,
                    Some(other) => {
                        return Err(SettingsError {
                            key: "BUILD_ISOLATION",
                            problem: format!(
                                "{other:?} is not one of \"auto\", \"namespaces\", \"processes\", \"chroot\""
                            ),
                        })
                    }
                },
            },
        })
    }
}

/// The key of secret values: `SECRETS_KEY` when given, else the key kept in `SECRETS_KEY_FILE`
/// (made on first start), by default in the user's data directory, away from `WORK_DIR`.
fn secrets_key<F: Fn(&str) -> Option<String>>(
    read: &Reader<'_, F>,
) -> Result<SecretBox, SettingsError> {
    if let Some(text) = read.string("SECRETS_KEY") {
        return SecretBox::from_text(&text).map_err(|problem| SettingsError {
            key: "SECRETS_KEY",
            problem,
        });
    }
    let path = match (
        read.string("SECRETS_KEY_FILE"),
        read.string("XDG_DATA_HOME"),
        read.string("HOME"),
    ) {
        (Some(file), _, _) => PathBuf::from(file),
        (None, Some(data), _) => PathBuf::from(data).join("actor-builds/secrets.key"),
        (None, None, Some(home)) => {
            PathBuf::from(home).join(".local/share/actor-builds/secrets.key")
        }
        (None, None, None) => PathBuf::from(".actor-builds/secrets.key"),
    };
    SecretBox::load_or_create(&path).map_err(|problem| SettingsError {
        key: "SECRETS_KEY_FILE",
        problem,
    })
}

struct Reader<'a, F: Fn(&str) -> Option<String>> {
    get: &'a F,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn string(&self, key: &str) -> Option<String> {
        (self.get)(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: FromStr>(&self, key: &'static str, default: T) -> Result<T, SettingsError>
    where
        T::Err: fmt::Display,
    {
        match self.string(key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e| SettingsError {
                key,
                problem: format!("{raw:?} is not valid: {e}"),
            }),
        }
    }

    fn parse_secs(&self, key: &'static str, default: f64) -> Result<f64, SettingsError> {
        let secs: f64 = self.parse(key, default)?;
        if (0.0..1e9).contains(&secs) {
            Ok(secs)
        } else {
            Err(SettingsError {
                key,
                problem: "must be a number of seconds, at least 0".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work() {
        let s = with(&[]).expect("defaults are valid");
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.worker.concurrency, 2);
        assert_eq!(s.worker.lease(), Duration::from_secs(15));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = with(&[("BIND_ADDR", "nowhere")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("configuration: BIND_ADDR:")));
        let err = with(&[("LOG_FORMAT", "xml")]).err().map(|e| e.key);
        assert_eq!(err, Some("LOG_FORMAT"));
        let err = with(&[("WORKER_CONCURRENCY", "-1")]).err().map(|e| e.key);
        assert_eq!(err, Some("WORKER_CONCURRENCY"));
    }

    #[test]
    fn the_builder_and_the_image_repository_are_checked() {
        let s = with(&[]).expect("defaults");
        assert_eq!(s.worker.image.builder, BuilderChoice::Auto);
        assert_eq!(s.worker.image.run_isolation, RunIsolation::Oci);
        assert!(s.worker.image.tls_verify);
        // BUILD_COMMAND alone keeps selecting it, as before builders existed.
        let s = with(&[("BUILD_COMMAND", "make image")]).expect("command");
        assert_eq!(s.worker.image.builder, BuilderChoice::Command);
        let s = with(&[("BUILDER", "buildah"), ("BUILD_ISOLATION", "chroot")]).expect("chroot");
        assert_eq!(s.worker.image.run_isolation, RunIsolation::Chroot);
        assert_eq!(s.worker.build_isolation, BuildIsolation::Auto);
        let s = with(&[("IMAGE_REPOSITORY", "registry.example.com:5000/actors/")]).expect("repo");
        assert_eq!(
            s.worker.image.repository.as_deref(),
            Some("registry.example.com:5000/actors")
        );
        for (pairs, key) in [
            (&[("BUILDER", "kaniko")][..], "BUILDER"),
            (&[("BUILDER", "command")][..], "BUILD_COMMAND"),
            (
                &[("IMAGE_REPOSITORY", "https://registry.example.com/actors")][..],
                "IMAGE_REPOSITORY",
            ),
            (
                &[("IMAGE_REPOSITORY", "registry.example.com/Actors")][..],
                "IMAGE_REPOSITORY",
            ),
            (&[("RUN_ISOLATION", "none")][..], "RUN_ISOLATION"),
            (
                &[("REGISTRY_TLS_VERIFY", "maybe")][..],
                "REGISTRY_TLS_VERIFY",
            ),
        ] {
            assert_eq!(with(pairs).err().map(|e| e.key), Some(key), "{pairs:?}");
        }
    }

    #[test]
    fn password_is_redacted() {
        let url = DatabaseUrl("postgres://me:secret@db:5432/x".into());
        assert_eq!(format!("{url:?}"), "postgres://me:***@db:5432/x");
    }
}
