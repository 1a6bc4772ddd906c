//! Real image builds in tests: a docker-registry on 127.0.0.1, the registries.conf that sends
//! docker.io there, the stand-in base images the public Actor templates start FROM, and what
//! skopeo reads back from the registry.
//!
//! The tools (buildah, skopeo, runc, docker-registry, busybox-static) must be installed: a
//! missing one fails the test, naming the package. The helpers block; call them before the app
//! starts, or through `spawn_blocking`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The runtime buildah runs RUN steps with.
pub const RUNC: &str = "/usr/sbin/runc";

/// A directory under the system temp dir, removed with everything in it on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        ScratchDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command`, failing the test with its output unless it succeeds; `package` is what to
/// install when the program is missing.
#[track_caller]
pub fn run(command: &mut Command, package: &str) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?} did not start ({e}): is {package} installed?"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// buildah on a store of its own under `store` (vfs: no mounts, nothing left behind but files).
pub fn buildah(store: &Path) -> Command {
    assert!(
        Path::new(RUNC).is_file(),
        "{RUNC} is missing: is runc installed?"
    );
    let mut command = Command::new("buildah");
    command
        .arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"))
        .args(["--storage-driver", "vfs"]);
    command
}

/// A docker-registry serving plain HTTP on a free port of 127.0.0.1, storing into a temp dir.
/// It is killed on drop; if the test process dies first, its watchdog shell kills it.
pub struct Registry {
    port: u16,
    /// Sent back in a header of every response: the registry on `port` is this one, not one
    /// that took the port first.
    marker: String,
    /// The watchdog shell, leader of the process group the registry is in.
    watchdog: Option<Child>,
    /// Config, log and storage; removed once the registry is dropped.
    dir: ScratchDir,
    /// The user and password it lets in, when it asks for a login.
    login: Option<(String, String)>,
}

/// The user `Registry::start_with_login` lets in, its password, and the password's bcrypt hash
/// (cost 4: the registry checks it on every request).
pub const PUSHER: (&str, &str, &str) = (
    "pusher",
    "s3cret-pw",
    "$2b$04$Rbsxjcy/vCrgjJwjbwXMP.ExHkWc/ClNjewztB9QdnLz/UCb7mecC",
);

impl Registry {
    /// Starts a registry and waits until it answers `GET /v2/`.
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// A registry that lets only `PUSHER` in (htpasswd).
    pub fn start_with_login() -> Registry {
        Self::start_inner(Some(PUSHER))
    }

    fn start_inner(login: Option<(&str, &str, &str)>) -> Registry {
        let dir = ScratchDir::new("registry");
        let auth = match login {
            Some((user, _, hash)) => {
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        let login = login.map(|(user, password, _)| (user.to_owned(), password.to_owned()));
        let marker = uuid::Uuid::new_v4().simple().to_string();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  headers:\n    {MARKER_HEADER}: [\"{marker}\"]\n{auth}",
                    dir.path().join("data").display()
                ),
            )
            .expect("write the registry's config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("registry log");
            // The shell outlives no one: it ends the registry once the test process is gone.
            let mut watchdog = Command::new("sh")
                .arg("-c")
                .arg(
                    r#"docker-registry serve "$1" & child=$!
                    while kill -0 "$2" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
                    kill "$child" 2>/dev/null"#,
                )
                .arg("sh")
                .arg(&config)
                .arg(std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("registry log"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("start sh for docker-registry");
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if answers_v2(port, &marker) {
                    return Registry {
                        port,
                        marker,
                        watchdog: Some(watchdog),
                        dir,
                        login,
                    };
                }
                if watchdog.try_wait().expect("registry's shell").is_some() {
                    break; // The port was taken meanwhile, or the registry failed: try again.
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            kill_group(&mut watchdog);
        }
        let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry never answered GET /v2/ (is docker-registry installed?):\n{log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A registries.conf (in the registry's directory) that resolves docker.io names to it.
    pub fn registries_conf(&self) -> PathBuf {
        registries_conf(self.dir.path(), self)
    }

    /// Builds an image from `dockerfile` (busybox-static in its context) and pushes it as
    /// `name`, e.g. `apify/actor-node:24`.
    pub fn push_base_image(&self, name: &str, dockerfile: &str) {
        let work = ScratchDir::new("base-image");
        std::fs::copy("/bin/busybox", work.path().join("busybox"))
            .expect("/bin/busybox: is busybox-static installed?");
        std::fs::write(work.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
        let store = work.path().join("store");
        run(
            buildah(&store)
                .args(["bud", "--isolation", "oci", "--runtime", RUNC, "-t", "base"])
                .arg(work.path()),
            "buildah",
        );
        run(
            buildah(&store)
                .args(["push", "--tls-verify=false", "base"])
                .arg(format!("docker://{}/{name}", self.host())),
            "buildah",
        );
    }

    /// The digest and the layers' total size of `reference` (`repo/name:tag`); `None` when the
    /// registry does not have it.
    pub fn manifest(&self, reference: &str) -> Option<(String, u64)> {
        let output = self.skopeo(&["inspect", "--raw"], reference);
        output
            .status
            .success()
            .then(|| read_manifest(reference, &output.stdout))
            .map(|(digest, size, _)| (digest, size))
    }

    /// The image configuration of `reference`, as JSON text.
    pub fn config(&self, reference: &str) -> String {
        let output = self.skopeo(&["inspect", "--config"], reference);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn skopeo(&self, args: &[&str], reference: &str) -> Output {
        let mut command = Command::new("skopeo");
        command.args(args).arg("--tls-verify=false");
        if let Some((user, password)) = &self.login {
            command.arg(format!("--creds={user}:{password}"));
        }
        command
            .arg(format!("docker://{}/{reference}", self.host()))
            .stdin(Stdio::null())
            .output()
            .expect("skopeo did not start: is skopeo installed?")
    }

    /// An auth.json (the containers format) giving `password` for this registry's user.
    pub fn auth_file(&self, password: &str) -> PathBuf {
        use base64::Engine;
        let user = self
            .login
            .as_ref()
            .map_or("nobody", |(user, _)| user.as_str());
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let path = self
            .dir
            .path()
            .join(format!("auth-{}.json", uuid::Uuid::new_v4().simple()));
        let json = serde_json::json!({"auths": {self.host(): {"auth": auth}}});
        std::fs::write(&path, json.to_string()).expect("auth.json");
        path
    }

    /// Kills the registry (a registry that is down); returns once it no longer answers.
    pub fn stop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            kill_group(&mut watchdog);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while answers_v2(self.port, &self.marker) {
            assert!(Instant::now() < deadline, "the registry outlived SIGKILL");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            kill_group(&mut watchdog);
        }
    }
}

/// SIGKILL to the shell's whole group (the shell, its sleep, the registry), then reaps the shell.
fn kill_group(leader: &mut Child) {
    let pgid = nix::unistd::Pid::from_raw(leader.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = leader.wait();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The header through which a registry says which one it is.
const MARKER_HEADER: &str = "X-Test-Registry";

/// Whether 127.0.0.1:`port` answers `GET /v2/` with 200 and `marker` in [`MARKER_HEADER`].
fn answers_v2(port: u16, marker: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    // HTTP/1.0: the registry closes the connection after its answer.
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).to_lowercase();
    // 401: a registry that asks for a login answers so until it gets one.
    let status_ok = ["200", "401"].iter().any(|code| {
        response.starts_with(&format!("http/1.0 {code}"))
            || response.starts_with(&format!("http/1.1 {code}"))
    });
    let wanted = format!("\r\n{}: {marker}\r\n", MARKER_HEADER.to_lowercase());
    status_ok && response.contains(&wanted)
}

/// Writes `dir`/registries.conf, which resolves docker.io names (and unqualified ones) to
/// `registry`; give its path as CONTAINERS_REGISTRIES_CONF.
pub fn registries_conf(dir: &Path, registry: &Registry) -> PathBuf {
    let path = dir.join("registries.conf");
    std::fs::write(
        &path,
        format!(
            "unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}\"\ninsecure = true\n",
            registry.host()
        ),
    )
    .expect("write registries.conf");
    path
}

/// The manifest of `reference` (`repo/name:tag`) as the registry holds it: its digest (sha256
/// of the raw bytes), the sum of its layers' sizes, and the raw manifest.
pub fn skopeo_manifest(registry: &Registry, reference: &str) -> (String, u64, String) {
    let output = registry.skopeo(&["inspect", "--raw"], reference);
    assert!(
        output.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    read_manifest(reference, &output.stdout)
}

/// The digest (sha256 of the raw bytes), the layers' total size and the text of a manifest.
fn read_manifest(reference: &str, bytes: &[u8]) -> (String, u64, String) {
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    let raw = String::from_utf8(bytes.to_vec()).expect("a manifest is JSON");
    let manifest: Value = serde_json::from_str(&raw).expect("a manifest is JSON");
    let layers = manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers in the manifest of {reference}: {raw}"));
    let size = layers
        .iter()
        .map(|l| l["size"].as_u64().expect("a layer's size"))
        .sum();
    (digest, size, raw)
}

/// The public Actor templates, each a directory with a Dockerfile (tests/fixtures).
pub fn template_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/actor-templates");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("a template entry").path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 44, "templates in {}", root.display());
    dirs
}

/// The plain base image: busybox, root and a `myuser` with its home.
pub const BUSYBOX_BASE: &str = "FROM scratch
COPY busybox /bin/busybox
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]
RUN mkdir -p /etc /home/myuser /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'myuser:x:1000:1000::/home/myuser:/bin/sh' >> /etc/passwd && echo 'root:x:0:' > /etc/group && echo 'myuser:x:1000:' >> /etc/group && chown 1000:1000 /home/myuser && chmod 1777 /tmp
ENV PATH=/usr/local/bin:/usr/bin:/bin
";

#[test]
fn registry_answers_until_stopped() {
    let mut registry = Registry::start();
    let port = registry.port;
    assert!(answers_v2(port, &registry.marker));
    registry.stop();
    assert!(!answers_v2(port, &registry.marker), "still up after stop");
    assert!(
        registry.dir.path().is_dir(),
        "the storage is kept until drop"
    );
}
