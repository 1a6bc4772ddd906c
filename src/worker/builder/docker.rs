//! docker: a daemon builds (and, with a repository, pushes). Credentials and plain-HTTP
//! registries are the daemon's and its client's configuration (`DOCKER_CONFIG`,
//! `insecure-registries`), not `REGISTRY_AUTH_FILE`.

use super::containers::quote;
use super::{BuiltImage, ImageBuilder, ImageJob, Plan};
use crate::settings::ImageSettings;

pub struct Docker {
    settings: ImageSettings,
}

/// Builds, pushes when `AB_PUSH` is 1, and writes the digest (the pushed manifest's, or the
/// local image id) and the image's size.
const BUILD_SCRIPT: &str = r#"set -u
phase() { printf '%s\n' "$1" > "$AB_STATE/phase"; }
if [ "$AB_CACHE" = 1 ]; then cache=""; else cache="--no-cache --pull"; fi
phase build
SOURCE_DATE_EPOCH="$AB_TIMESTAMP" docker build $cache --tag "$AB_IMAGE" \
    --file "$ACTOR_DOCKERFILE" "$@" "$ACTOR_DOCKER_CONTEXT" || exit
if [ "$AB_PUSH" = 1 ]; then
    phase push
    docker push --quiet "$AB_IMAGE" || exit
    phase inspect
    docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$AB_IMAGE" \
        | sed -n "s|^$AB_REPOSITORY@||p" | head -n 1 > "$AB_STATE/digest" || exit
else
    phase inspect
    docker image inspect --format '{{.Id}}' "$AB_IMAGE" > "$AB_STATE/digest" || exit
fi
docker image inspect --format '{{.Size}}' "$AB_IMAGE" > "$AB_STATE/size" || exit
phase done
"#;

impl Docker {
    pub fn new(settings: ImageSettings) -> Self {
        Docker { settings }
    }
}

impl ImageBuilder for Docker {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn build(&self, job: &ImageJob) -> Plan {
        let push = self.settings.repository.is_some();
        Plan {
            command: BUILD_SCRIPT.to_owned(),
            args: job.build_args.clone(),
            env: vec![
                ("AB_STATE".into(), job.dir.to_string_lossy().into_owned()),
                (
                    "AB_CACHE".into(),
                    if job.use_cache { "1" } else { "0" }.into(),
                ),
                ("AB_TIMESTAMP".into(), job.timestamp.to_string()),
                ("AB_IMAGE".into(), job.image.clone()),
                ("AB_REPOSITORY".into(), job.repository.clone()),
                ("AB_PUSH".into(), if push { "1" } else { "0" }.into()),
            ],
        }
    }

    fn tag(&self, job: &ImageJob, _image: &BuiltImage, tag: &str) -> Option<Plan> {
        let target = quote(&format!("{}:{tag}", job.repository));
        let mut command = format!("docker tag {} {target}", quote(&job.image));
        if self.settings.repository.is_some() {
            command.push_str(&format!(" && docker push --quiet {target}"));
        }
        Some(Plan {
            command,
            ..Plan::default()
        })
    }

    fn local_store(&self) -> String {
        "docker daemon's image store".to_owned()
    }
}
