//! What a failed image build needs to hear: from the phase the build process was in and its
//! last lines of output, one line that says what went wrong and what to do.

use std::path::Path;

/// The phase a build process was in, as it wrote it to `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Build,
    Push,
    Inspect,
    Done,
    /// No phase was written (the builder's script never started, or it is `BUILD_COMMAND`).
    Unknown,
}

impl Phase {
    pub fn read(builder_dir: &Path) -> Phase {
        match std::fs::read_to_string(builder_dir.join("phase"))
            .unwrap_or_default()
            .trim()
        {
            "build" => Phase::Build,
            "push" => Phase::Push,
            "inspect" => Phase::Inspect,
            "done" => Phase::Done,
            _ => Phase::Unknown,
        }
    }
}

/// The line for the log of a build whose process failed in `phase`; `tail` is its last output.
pub fn diagnose(phase: Phase, tail: &[String], registry: Option<&str>) -> Option<String> {
    let has = |needles: &[&str]| {
        tail.iter().any(|line| {
            let line = line.to_ascii_lowercase();
            needles.iter().any(|n| line.contains(n))
        })
    };
    let registry = registry.unwrap_or("the registry");
    match phase {
        Phase::Build => {
            if let Some(image) = missing_base_image(tail) {
                return Some(format!(
                    "The base image {image} was not found: check its name and tag in the \
                     Dockerfile, and that the registry holding it is reachable from the worker \
                     (registries are configured by CONTAINERS_REGISTRIES_CONF)"
                ));
            }
            if has(&[
                "while running runtime",
                "exit status",
                "error building at step \"run",
            ]) {
                return Some(
                    "A RUN step of the Dockerfile failed: its output is above; fix the step \
                     and build again"
                        .to_owned(),
                );
            }
            if has(&[
                "dockerfile",
                "parse",
                "unknown instruction",
                "no build stage",
                "no from statement",
            ]) {
                return Some(
                    "The Dockerfile is not valid: fix the instruction the builder names above"
                        .to_owned(),
                );
            }
            Some("Building the image failed: the builder's output above says why".to_owned())
        }
        Phase::Push | Phase::Inspect => {
            // Checked first: a registry that cannot be reached never refused anything.
            if has(&[
                "connection refused",
                "no such host",
                "i/o timeout",
                "dial tcp",
                "connection reset",
                "server gave http response to https client",
                "tls:",
            ]) {
                return Some(format!(
                    "{registry} could not be reached: check IMAGE_REPOSITORY, that the registry \
                     runs, and REGISTRY_TLS_VERIFY=false for a plain-HTTP registry; no tag was \
                     moved"
                ));
            }
            if has(&[
                "unauthorized",
                "authentication required",
                "access denied",
                "requested access to the resource is denied",
                "401 unauthorized",
                "403 forbidden",
            ]) {
                return Some(format!(
                    "{registry} refused the credentials: check the entry for it in \
                     REGISTRY_AUTH_FILE; no tag was moved"
                ));
            }
            Some(format!(
                "Pushing the image to {registry} failed: the output above says why; no tag was \
                 moved"
            ))
        }
        Phase::Done | Phase::Unknown => None,
    }
}

/// The name of a base image the builder could not find, from lines such as
/// `... initializing source docker://127.0.0.1:5000/apify/actor-node:24: reading manifest 24 in
/// ...: manifest unknown` or `... pull access denied for apify/actor-node ...`.
fn missing_base_image(tail: &[String]) -> Option<String> {
    tail.iter().rev().find_map(|line| {
        let lower = line.to_ascii_lowercase();
        let missing = [
            "manifest unknown",
            "name unknown",
            "not found",
            "repository does not exist",
        ]
        .iter()
        .any(|n| lower.contains(n));
        if !missing {
            return None;
        }
        for marker in [
            "initializing source docker://",
            "docker://",
            "pull access denied for ",
        ] {
            if let Some(start) = line.find(marker) {
                let rest = &line[start + marker.len()..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ',' || c == '"')
                    .unwrap_or(rest.len());
                let name = rest[..end].trim_end_matches(':');
                if !name.is_empty() {
                    return Some(name.to_owned());
                }
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_missing_base_image_is_named() {
        let tail = lines(
            "[1/2] STEP 1/3: FROM apify/actor-node:99\n\
             Error: creating build container: initializing source docker://127.0.0.1:5000/apify/actor-node:99: reading manifest 99 in 127.0.0.1:5000/apify/actor-node: manifest unknown: manifest unknown",
        );
        let line = diagnose(Phase::Build, &tail, None).expect("a line");
        assert!(
            line.contains("127.0.0.1:5000/apify/actor-node:99 was not found"),
            "{line}"
        );
    }

    #[test]
    fn a_failing_run_step_is_told() {
        let tail =
            lines("error building at STEP \"RUN exit 3\": while running runtime: exit status 3");
        let line = diagnose(Phase::Build, &tail, None).expect("a line");
        assert!(line.starts_with("A RUN step"), "{line}");
    }

    #[test]
    fn registry_problems_are_told_apart() {
        let refused = lines("Error: pinging container registry 127.0.0.1:9: Get \"http://127.0.0.1:9/v2/\": dial tcp 127.0.0.1:9: connect: connection refused");
        let line = diagnose(Phase::Push, &refused, Some("127.0.0.1:9/actors")).expect("a line");
        assert!(line.contains("could not be reached"), "{line}");
        let denied = lines(
            "Error: writing blob: initiating layer upload: unauthorized: authentication required",
        );
        let line = diagnose(Phase::Push, &denied, None).expect("a line");
        assert!(line.contains("refused the credentials"), "{line}");
        // Digests are no words: a "401" inside one says nothing.
        let refused_with_digest = lines(
            "Copying blob sha256:4017aa\nError: dial tcp 127.0.0.1:9: connect: connection refused",
        );
        let line = diagnose(Phase::Push, &refused_with_digest, None).expect("a line");
        assert!(line.contains("could not be reached"), "{line}");
    }
}
