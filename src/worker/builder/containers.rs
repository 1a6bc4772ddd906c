//! buildah and podman: daemonless builds into an image store of the build's own (or, with
//! `useCache`, a layer cache of the worker's lent to the build), pushed with a digest file and
//! read back with skopeo.

use std::path::{Path, PathBuf};

use super::{BuiltImage, ImageBuilder, ImageJob, Plan};
use crate::settings::{ImageSettings, RunIsolation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Buildah,
    Podman,
}

impl Tool {
    fn program(self) -> &'static str {
        match self {
            Tool::Buildah => "buildah",
            Tool::Podman => "podman",
        }
    }

    fn build_command(self) -> &'static str {
        match self {
            Tool::Buildah => "bud",
            Tool::Podman => "build",
        }
    }
}

pub struct Containers {
    tool: Tool,
    settings: ImageSettings,
}

/// Builds, pushes and reads back the pushed manifest. Every value comes from the environment
/// (`AB_*`, `ACTOR_*`) except the build arguments, which are `"$@"`. Each phase is written to
/// `$AB_STATE/phase` before it starts, so that a failure can be told apart.
const BUILD_SCRIPT: &str = r#"set -u
phase() { printf '%s\n' "$1" > "$AB_STATE/phase"; }
store() { "$AB_TOOL" --root "$AB_ROOT" --runroot "$AB_RUNROOT" --storage-driver vfs "$@"; }
mkdir -p "$TMPDIR"
if [ "$AB_CACHE" = 1 ]; then cache="--layers --pull=true"; else cache="--no-cache --pull=always"; fi
if [ "$AB_OMIT_HISTORY" = 1 ]; then cache="$cache --omit-history"; fi
if [ "$AB_ISOLATION" = oci ]; then isolation="--isolation oci --runtime $AB_RUNTIME"; else isolation="--isolation chroot"; fi
phase build
store "$AB_BUILD" $isolation $cache --timestamp "$AB_TIMESTAMP" --tag "$AB_IMAGE" \
    --file "$ACTOR_DOCKERFILE" "$@" "$ACTOR_DOCKER_CONTEXT" || exit
phase push
echo "Pushing $AB_IMAGE"
store push --tls-verify="$AB_TLS" --digestfile "$AB_STATE/digest" "$AB_IMAGE" "$AB_DEST" || exit
phase inspect
if [ -n "$AB_REPOSITORY_REF" ]; then ref="$AB_REPOSITORY_REF@$(cat "$AB_STATE/digest")"; else ref="$AB_DEST"; fi
skopeo inspect --raw --tls-verify="$AB_TLS" "$ref" > "$AB_STATE/manifest.json" || exit
phase done
echo "Pushed $AB_IMAGE@$(cat "$AB_STATE/digest")"
"#;

impl Containers {
    pub fn new(tool: Tool, settings: ImageSettings) -> Self {
        Containers { tool, settings }
    }

    /// The worker's local image store, where images stay when no repository is set.
    fn local(&self) -> (PathBuf, PathBuf) {
        let dir = self.settings.store_dir.join("local");
        (dir.join("root"), dir.join("run"))
    }

    /// The store a build works in: the lent cache, or one in its own directory.
    fn work_store(job: &ImageJob) -> (PathBuf, PathBuf) {
        let dir = job
            .cache_store
            .clone()
            .unwrap_or_else(|| job.dir.join("store"));
        (dir.join("root"), dir.join("run"))
    }

    fn tls(&self) -> &'static str {
        if self.settings.tls_verify {
            "true"
        } else {
            "false"
        }
    }

    fn registry_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(file) = &self.settings.auth_file {
            env.push(("REGISTRY_AUTH_FILE".into(), path(file)));
        }
        if let Some(file) = &self.settings.registries_conf {
            env.push(("CONTAINERS_REGISTRIES_CONF".into(), path(file)));
        }
        env
    }

    /// `store` of the scripts above, spelled out for a one-line command.
    fn store_command(&self, root: &Path, runroot: &Path) -> String {
        format!(
            "{} --root {} --runroot {} --storage-driver vfs",
            self.tool.program(),
            quote(&path(root)),
            quote(&path(runroot))
        )
    }
}

impl ImageBuilder for Containers {
    fn name(&self) -> &'static str {
        self.tool.program()
    }

    fn keeps_layer_caches(&self) -> bool {
        true
    }

    fn build(&self, job: &ImageJob) -> Plan {
        let (root, runroot) = Self::work_store(job);
        let (dest, repository_ref) = match &self.settings.repository {
            Some(_) => (
                format!("docker://{}", job.image),
                format!("docker://{}", job.repository),
            ),
            None => {
                let (local_root, local_run) = self.local();
                (
                    format!(
                        "containers-storage:[vfs@{}+{}]{}",
                        path(&local_root),
                        path(&local_run),
                        job.image
                    ),
                    String::new(),
                )
            }
        };
        let isolation = match self.settings.run_isolation {
            RunIsolation::Oci => "oci",
            RunIsolation::Chroot => "chroot",
        };
        let mut env: Vec<(String, String)> = [
            ("AB_TOOL", self.tool.program().to_owned()),
            ("AB_BUILD", self.tool.build_command().to_owned()),
            ("AB_ROOT", path(&root)),
            ("AB_RUNROOT", path(&runroot)),
            ("AB_STATE", path(&job.dir)),
            ("TMPDIR", path(&job.dir.join("tmp"))),
            ("AB_CACHE", if job.use_cache { "1" } else { "0" }.to_owned()),
            (
                "AB_OMIT_HISTORY",
                if job.secret_args { "1" } else { "0" }.to_owned(),
            ),
            ("AB_ISOLATION", isolation.to_owned()),
            ("AB_RUNTIME", self.settings.oci_runtime.clone()),
            ("AB_TIMESTAMP", job.timestamp.to_string()),
            ("AB_IMAGE", job.image.clone()),
            ("AB_DEST", dest),
            ("AB_REPOSITORY_REF", repository_ref),
            ("AB_TLS", self.tls().to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.registry_env());
        Plan {
            command: BUILD_SCRIPT.to_owned(),
            args: job.build_args.clone(),
            env,
        }
    }

    fn tag(&self, job: &ImageJob, image: &BuiltImage, tag: &str) -> Option<Plan> {
        let target = format!("{}:{tag}", job.repository);
        let command = match &self.settings.repository {
            Some(_) => format!(
                "skopeo copy --quiet --src-tls-verify={tls} --dest-tls-verify={tls} {from} {to}",
                tls = self.tls(),
                from = quote(&format!("docker://{}@{}", job.repository, image.digest)),
                to = quote(&format!("docker://{target}")),
            ),
            None => {
                let (root, runroot) = self.local();
                format!(
                    "{} tag {} {}",
                    self.store_command(&root, &runroot),
                    quote(&job.image),
                    quote(&target)
                )
            }
        };
        Some(Plan {
            command,
            args: Vec::new(),
            env: self.registry_env(),
        })
    }

    fn clean_up(&self, job: &ImageJob) -> Option<Plan> {
        // Only a lent cache outlives the build; its own store goes with its directory.
        let (root, runroot) = job.cache_store.as_ref().map(|_| Self::work_store(job))?;
        // Working containers of the build: buildah's own (podman builds make them too).
        let command = format!(
            "buildah --root {} --runroot {} --storage-driver vfs rm --all >/dev/null 2>&1 || \
             {} container rm --all --force >/dev/null 2>&1 || true",
            quote(&path(&root)),
            quote(&path(&runroot)),
            self.store_command(&root, &runroot),
        );
        Some(Plan {
            command,
            args: Vec::new(),
            env: Vec::new(),
        })
    }

    fn local_store(&self) -> String {
        let (root, _) = self.local();
        format!("{} store at {}", self.tool.program(), root.display())
    }
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Single-quotes a word for `sh`.
pub(super) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_sh() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
