//! A real registry (Debian's docker-registry) on a free loopback port, base images made here from
//! busybox-static, and skopeo to read back what was pushed.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// The user and password it asks for, if any.
    login: Option<(String, String)>,
}

/// The user of `Registry::start_with_login` and its password, with the password's bcrypt hash
/// (cost 4: the registry checks it on every request).
pub const PUSHER: (&str, &str, &str) = (
    "pusher",
    "s3cret-pw",
    "$2b$04$Rbsxjcy/vCrgjJwjbwXMP.ExHkWc/ClNjewztB9QdnLz/UCb7mecC",
);

impl Registry {
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// A registry that lets only `PUSHER` in (htpasswd).
    pub fn start_with_login() -> Registry {
        Self::start_inner(Some(PUSHER))
    }

    fn start_inner(login: Option<(&str, &str, &str)>) -> Registry {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("registry-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("registry dir");
        let config = dir.join("config.yml");
        let mut text = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        if let Some((user, _, hash)) = login {
            let htpasswd = dir.join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("htpasswd");
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        std::fs::write(&config, text).expect("registry config");
        // The registry ends with the test process, even when a test thread ends first.
        let watch = format!(
            "docker-registry serve '{}' & child=$!; while kill -0 {} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done; kill $child",
            config.display(),
            std::process::id()
        );
        let child = Command::new("sh")
            .args(["-c", &watch])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("docker-registry (install the docker-registry package)");
        let registry = Registry {
            port,
            dir,
            child: Some(child),
            login: login.map(|(user, password, _)| (user.to_owned(), password.to_owned())),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// An auth.json (the containers format) with `password` for this registry's user.
    pub fn auth_file(&self, password: &str) -> PathBuf {
        use base64::Engine;
        let user = self.login.as_ref().map_or("nobody", |(u, _)| u.as_str());
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let path = self.dir.join(format!("auth-{}.json", password.len()));
        let json = serde_json::json!({"auths": {self.host(): {"auth": auth}}});
        std::fs::write(&path, json.to_string()).expect("auth.json");
        path
    }

    /// skopeo's `--creds` for this registry, when it asks for a login.
    fn creds(&self) -> Vec<String> {
        self.login
            .iter()
            .map(|(user, password)| format!("--creds={user}:{password}"))
            .collect()
    }

    /// Stops the registry (what a registry that is down looks like).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pgid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait();
        }
    }

    /// A registries.conf that resolves `docker.io` (and unqualified names) to this registry.
    pub fn registries_conf(&self) -> PathBuf {
        let path = self.dir.join("registries.conf");
        std::fs::write(
            &path,
            format!(
                "unqualified-search-registries = [\"docker.io\"]\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"{}\"\ninsecure = true\n",
                self.host()
            ),
        )
        .expect("registries.conf");
        path
    }

    /// Builds an image from `dockerfile` (with busybox in its context) and pushes it as `name`.
    pub fn push_base_image(&self, name: &str, dockerfile: &str) {
        let work = self
            .dir
            .join(format!("base-{}", name.replace(['/', ':'], "-")));
        std::fs::create_dir_all(&work).expect("base image dir");
        std::fs::copy("/bin/busybox", work.join("busybox")).expect("busybox-static");
        std::fs::write(work.join("Dockerfile"), dockerfile).expect("Dockerfile");
        let store = |args: &[&str]| {
            let out = Command::new("buildah")
                .arg("--root")
                .arg(work.join("root"))
                .arg("--runroot")
                .arg(work.join("run"))
                .args(["--storage-driver", "vfs"])
                .args(args)
                .output()
                .expect("buildah (install the buildah package)");
            assert!(
                out.status.success(),
                "buildah {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let context = work.to_string_lossy().into_owned();
        store(&[
            "bud",
            "--isolation",
            "oci",
            "--runtime",
            "/usr/sbin/runc",
            "-t",
            "base",
            &context,
        ]);
        store(&[
            "push",
            "--tls-verify=false",
            "base",
            &format!("docker://{}/{name}", self.host()),
        ]);
    }

    /// The digest and the layers' total size of `name` (`repo:tag`) in this registry; `None`
    /// when the registry does not have it.
    pub fn manifest(&self, name: &str) -> Option<(String, u64)> {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .args(self.creds())
            .arg(format!("docker://{}/{name}", self.host()))
            .output()
            .expect("skopeo (install the skopeo package)");
        if !out.status.success() {
            return None;
        }
        let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).expect("manifest");
        let size = manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| l["size"].as_u64().expect("size"))
            .sum();
        Some((sha256_digest(&out.stdout), size))
    }
}

impl Registry {
    /// The image configuration of `name` (`repo:tag`), as JSON text.
    pub fn config(&self, name: &str) -> String {
        let out = Command::new("skopeo")
            .args(["inspect", "--config", "--tls-verify=false"])
            .args(self.creds())
            .arg(format!("docker://{}/{name}", self.host()))
            .output()
            .expect("skopeo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sha256:HEX` of `bytes`, by sha256sum.
fn sha256_digest(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        text.split_whitespace().next().unwrap_or_default()
    )
}

/// The plain base image: busybox, a `myuser`, /home/myuser.
pub const BUSYBOX_BASE: &str = "FROM scratch
COPY busybox /bin/busybox
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]
RUN mkdir -p /etc /home/myuser /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'myuser:x:1000:1000::/home/myuser:/bin/sh' >> /etc/passwd && echo 'root:x:0:' > /etc/group && echo 'myuser:x:1000:' >> /etc/group && chown 1000:1000 /home/myuser && chmod 1777 /tmp
ENV PATH=/usr/local/bin:/usr/bin:/bin
";
