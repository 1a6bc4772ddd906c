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
}

impl Registry {
    /// Starts a registry and waits until it answers `GET /v2/`.
    pub fn start() -> Registry {
        let dir = ScratchDir::new("registry");
        let marker = uuid::Uuid::new_v4().simple().to_string();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  headers:\n    {MARKER_HEADER}: [\"{marker}\"]\n",
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
    let status_ok = response.starts_with("http/1.0 200") || response.starts_with("http/1.1 200");
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
    let output = run(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{reference}", registry.host())),
        "skopeo",
    );
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&output.stdout)));
    let raw = String::from_utf8(output.stdout).expect("a manifest is JSON");
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
