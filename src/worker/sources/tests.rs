//! Unit tests of writing sources.

use super::git::{one_line, parse_git_url};
use super::*;
use crate::domain::VersionNumber;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh empty folder under the system's temp dir (removed when dropped).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "actor-builds-sources-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn limits() -> SourceLimits {
    SourceLimits {
        tarball_max_bytes: 1024 * 1024,
        download_timeout: Duration::from_secs(30),
        max_unpacked_bytes: 1024 * 1024,
        max_entries: 1000,
        allow_private_targets: true,
    }
}

fn unpack_archive(bytes: &[u8], dir: &Path, url: &str) -> Result<PathBuf, SourceError> {
    let mut budget = Budget::new(&limits(), &Cancel::default());
    archive::unpack_archive(Cursor::new(bytes.to_vec()), dir, url, &mut budget)
}

/// `git daemon` serving the repositories under `base` on 127.0.0.1; killed when dropped.
pub(super) struct GitDaemon(std::process::Child, pub u16);

impl GitDaemon {
    pub(super) fn start(base: &Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("git")
            .arg("daemon")
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // `git daemon` runs `git-daemon` as its child: the whole group is killed on drop.
            .process_group(0)
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        GitDaemon(child, port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.0.wait();
    }
}

fn spec(source_type: SourceType) -> VersionSpec {
    VersionSpec {
        version_number: VersionNumber::parse("0.1").unwrap(),
        source_type,
        build_tag: "latest".into(),
        env_vars: vec![],
        apply_env_vars_to_build: false,
        source_files: vec![],
        git_repo_url: None,
        tarball_url: None,
    }
}

fn files_spec(files: serde_json::Value) -> VersionSpec {
    let mut spec = spec(SourceType::SourceFiles);
    spec.source_files = serde_json::from_value(files).unwrap();
    spec
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn source_files_text_base64_and_folders() {
    let tmp = TempDir::new("files");
    let spec = files_spec(serde_json::json!([
        {"name": "src/main.js", "format": "TEXT", "content": "console.log(1);\n"},
        {"name": "data/bin.dat", "format": "BASE64", "content": "aGVs\nbG8g d29y\tbGQ="},
        {"name": "nopad.txt", "format": "BASE64", "content": "aGk"},
        {"name": "empty/folder", "folder": true},
        {"name": "./.actor/actor.json", "format": "TEXT", "content": "{}"},
    ]));
    let root = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
        .await
        .unwrap();
    assert_eq!(root, tmp.path());
    assert_eq!(read(root.join("src/main.js")), "console.log(1);\n");
    assert_eq!(read(root.join("data/bin.dat")), "hello world");
    assert_eq!(read(root.join("nopad.txt")), "hi");
    assert!(root.join("empty/folder").is_dir());
    assert_eq!(read(root.join(".actor/actor.json")), "{}");
}

#[tokio::test]
async fn source_files_bad_names_and_content_are_refused() {
    for (name, expected) in [
        ("../x", "'..'"),
        ("src/../../x", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\0b", "NUL"),
        ("", "empty"),
    ] {
        let tmp = TempDir::new("badname");
        let spec =
            files_spec(serde_json::json!([{"name": name, "format": "TEXT", "content": "x"}]));
        let err = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains(expected), "{name:?}: {message}");
        assert!(message.starts_with("source file"), "{message}");
        assert!(!message.contains('\n'));
    }
    let tmp = TempDir::new("badb64");
    let spec =
        files_spec(serde_json::json!([{"name": "a.bin", "format": "BASE64", "content": "***"}]));
    let err = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "source file \"a.bin\": content is not valid base64"
    );
    // Parents that are files cannot become folders.
    let tmp = TempDir::new("fileparent");
    let spec = files_spec(serde_json::json!([
        {"name": "a", "format": "TEXT", "content": "x"},
        {"name": "a/b", "format": "TEXT", "content": "y"},
    ]));
    let err = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("already exists as a file"),
        "{err}"
    );
}

fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn add_file(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8], mode: u32) {
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, content).unwrap();
}

fn add_link(builder: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, target: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(0o777);
    header.set_entry_type(kind);
    builder.append_link(&mut header, name, target).unwrap();
}

/// A tar entry whose name is written raw (the tar crate itself refuses `..` names).
fn add_raw_name(builder: &mut tar::Builder<Vec<u8>>, name: &str, content: &[u8]) {
    let mut header = tar::Header::new_old();
    let slot = &mut header.as_old_mut().name;
    slot[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, content).unwrap();
}

#[test]
fn tar_gz_with_single_top_folder_is_unpacked_and_becomes_the_root() {
    let tmp = TempDir::new("targz");
    let bytes = tar_gz(|b| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        b.append_data(&mut header, "repo-abc123/", io::empty())
            .unwrap();
        add_file(
            b,
            "repo-abc123/.actor/actor.json",
            b"{\"actorSpecification\": 1}",
            0o644,
        );
        add_file(b, "repo-abc123/run.sh", b"#!/bin/sh\n", 0o755);
        add_link(b, tar::EntryType::Symlink, "repo-abc123/link.sh", "run.sh");
        add_link(
            b,
            tar::EntryType::Link,
            "repo-abc123/hard.sh",
            "repo-abc123/run.sh",
        );
    });
    let root = unpack_archive(&bytes, tmp.path(), "http://x/a.tgz").unwrap();
    assert_eq!(root, tmp.path().join("repo-abc123"));
    assert_eq!(
        read(root.join(".actor/actor.json")),
        "{\"actorSpecification\": 1}"
    );
    assert_eq!(read(root.join("link.sh")), "#!/bin/sh\n");
    assert_eq!(read(root.join("hard.sh")), "#!/bin/sh\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
}

#[test]
fn tar_with_escaping_entries_is_refused() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "symlink out",
            tar_gz(|b| add_link(b, tar::EntryType::Symlink, "evil", "../../../etc")),
            "points outside the work directory",
        ),
        (
            "absolute symlink",
            tar_gz(|b| add_link(b, tar::EntryType::Symlink, "evil", "/etc/passwd")),
            "absolute path",
        ),
        (
            "hard link out",
            tar_gz(|b| add_link(b, tar::EntryType::Link, "evil", "/etc/passwd")),
            "not a file inside the work directory",
        ),
        (
            "dotdot name",
            tar_gz(|b| add_raw_name(b, "../escape.txt", b"x")),
            "'..'",
        ),
        (
            "absolute name",
            tar_gz(|b| add_raw_name(b, "/tmp/escape.txt", b"x")),
            "absolute path",
        ),
        (
            "write through symlink",
            tar_gz(|b| {
                add_link(b, tar::EntryType::Symlink, "sub", ".");
                add_file(b, "sub/x.txt", b"x", 0o644);
            }),
            "goes through the symbolic link",
        ),
        (
            "chain of links",
            tar_gz(|b| {
                add_link(b, tar::EntryType::Symlink, "a/b", "..");
                add_link(b, tar::EntryType::Symlink, "c", "a/b/..");
            }),
            "",
        ),
    ];
    for (what, bytes, expected) in cases {
        let tmp = TempDir::new("evil");
        let work = tmp.path().join("work");
        fs::create_dir(&work).unwrap();
        let result = unpack_archive(&bytes, &work, "http://x/a.tgz");
        let err = match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{what}: accepted"),
        };
        assert!(err.contains(expected), "{what}: {err}");
        assert!(err.starts_with("archive entry"), "{what}: {err}");
        assert!(!tmp.path().join("escape.txt").exists(), "{what}");
    }
}

fn zip_bytes() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer.add_directory("src/", options).unwrap();
    writer.start_file("src/main.py", options).unwrap();
    writer.write_all(b"print('hi')\n").unwrap();
    writer.start_file("Dockerfile", options).unwrap();
    writer.write_all(b"FROM scratch\n").unwrap();
    writer
        .add_symlink("main-link.py", "src/main.py", options)
        .unwrap();
    writer.finish().unwrap().into_inner()
}

#[test]
fn zip_is_unpacked_in_place() {
    let tmp = TempDir::new("zip");
    let root = unpack_archive(&zip_bytes(), tmp.path(), "http://x/a.zip").unwrap();
    assert_eq!(root, tmp.path());
    assert_eq!(read(root.join("src/main.py")), "print('hi')\n");
    assert_eq!(read(root.join("Dockerfile")), "FROM scratch\n");
    assert_eq!(read(root.join("main-link.py")), "print('hi')\n");

    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    writer.add_symlink("evil", "/etc/passwd", options).unwrap();
    let evil = writer.finish().unwrap().into_inner();
    let tmp = TempDir::new("zipevil");
    let err = unpack_archive(&evil, tmp.path(), "http://x/a.zip").unwrap_err();
    assert!(err.to_string().contains("absolute path"), "{err}");

    let tmp = TempDir::new("unknown");
    let err = unpack_archive(b"just text", tmp.path(), "http://x/a").unwrap_err();
    assert!(matches!(err, SourceError::UnknownFormat { .. }), "{err}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[tokio::test]
async fn git_repo_with_branch_and_subdir() {
    let tmp = TempDir::new("git");
    let repo = tmp.path().join("repo");
    fs::create_dir_all(repo.join("actors/one/.actor")).unwrap();
    fs::write(repo.join("README.md"), "top").unwrap();
    fs::write(repo.join("actors/one/main.py"), "print()").unwrap();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    git(&repo, &["checkout", "-q", "-b", "dev"]);
    fs::write(
        repo.join("actors/one/.actor/actor.json"),
        "{\"version\": \"0.1\"}",
    )
    .unwrap();
    std::os::unix::fs::symlink("/tmp", repo.join("outside")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "second"]);
    git(&repo, &["checkout", "-q", "main"]);
    let refused = {
        let mut spec = spec(SourceType::GitRepo);
        spec.git_repo_url = Some(format!("file://{}", repo.display()));
        let work = tmp.path().join("w0");
        fs::create_dir(&work).unwrap();
        materialize(&spec, &work, &limits(), None, &Cancel::default()).await
    };
    let err = refused.unwrap_err().to_string();
    assert!(err.contains("file:// transport is not allowed"), "{err}");
    let daemon = GitDaemon::start(tmp.path());
    let url = format!("git://127.0.0.1:{}/repo", daemon.1);

    let clone = |fragment: &str, tag: &str| {
        let mut spec = spec(SourceType::GitRepo);
        spec.git_repo_url = Some(format!("{url}{fragment}"));
        let work = tmp.path().join(tag);
        fs::create_dir(&work).unwrap();
        async move {
            (
                materialize(&spec, &work, &limits(), None, &Cancel::default()).await,
                work,
            )
        }
    };

    let (root, work) = clone("#dev:actors/one", "w1").await;
    let root = root.unwrap();
    assert_eq!(root, work.join("actors/one"));
    assert_eq!(
        read(root.join(".actor/actor.json")),
        "{\"version\": \"0.1\"}"
    );

    let (root, work) = clone("", "w2").await;
    assert_eq!(root.unwrap(), work);
    assert!(
        !work.join("actors/one/.actor/actor.json").exists(),
        "main has no actor.json"
    );

    let (root, work) = clone("#:actors", "w3").await;
    assert_eq!(root.unwrap(), work.join("actors"));

    let (err, _) = clone("#dev:missing", "w4").await;
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("\"missing\" not found"));

    let (err, _) = clone("#dev:../x", "w5").await;
    assert!(err.unwrap_err().to_string().contains("'..'"));

    let (err, _) = clone("#dev:outside", "w6").await;
    let err = err.unwrap_err().to_string();
    assert!(err.contains("outside the work directory"), "{err}");

    let (err, _) = clone("#no-such-branch", "w7").await;
    let err = err.unwrap_err().to_string();
    assert!(err.starts_with("git clone of git://"), "{err}");
    assert!(err.contains("no-such-branch"), "{err}");
    assert!(!err.contains('\n'));
}

#[test]
fn git_url_parsing_and_redaction() {
    assert_eq!(
        parse_git_url("https://h/r.git"),
        ("https://h/r.git", None, None)
    );
    assert_eq!(
        parse_git_url("https://h/r#dev"),
        ("https://h/r", Some("dev"), None)
    );
    assert_eq!(
        parse_git_url("https://h/r#:sub/dir"),
        ("https://h/r", None, Some("sub/dir"))
    );
    assert_eq!(
        parse_git_url("git@h:u/r.git#b:s"),
        ("git@h:u/r.git", Some("b"), Some("s"))
    );
    assert_eq!(redact_url("https://u:tok@h/r"), "https://***@h/r");
    assert_eq!(redact_url("https://h/r@x"), "https://h/r@x");
    assert_eq!(
        one_line(b"Cloning into 'x'...\nfatal: bad u:tok\n", Some("u:tok")),
        "fatal: bad ***"
    );
}

/// Answers one HTTP request with `body`, announcing its length or not.
async fn serve_once(body: Vec<u8>, with_length: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let head = if with_length {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
        } else {
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned()
        };
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(&body).await;
        let _ = socket.shutdown().await;
    });
    format!("http://{address}/download")
}

#[tokio::test]
async fn tarball_is_downloaded_and_unpacked() {
    let bytes = tar_gz(|b| {
        add_file(b, "owner-repo-1234/.actor/actor.json", b"{}", 0o644);
        add_file(b, "owner-repo-1234/Dockerfile", b"FROM x", 0o644);
    });
    let tmp = TempDir::new("tarball");
    let mut spec = spec(SourceType::Tarball);
    spec.tarball_url = Some(serve_once(bytes, true).await);
    let root = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
        .await
        .unwrap();
    assert_eq!(root, tmp.path().join("owner-repo-1234"));
    assert_eq!(read(root.join("Dockerfile")), "FROM x");

    let tmp = TempDir::new("tarball-zip");
    spec.tarball_url = Some(serve_once(zip_bytes(), false).await);
    let root = materialize(&spec, tmp.path(), &limits(), None, &Cancel::default())
        .await
        .unwrap();
    assert_eq!(root, tmp.path());
    assert_eq!(read(root.join("src/main.py")), "print('hi')\n");
}

#[tokio::test]
async fn tarball_size_limit() {
    let small = SourceLimits {
        tarball_max_bytes: 1000,
        ..limits()
    };
    for with_length in [true, false] {
        let tmp = TempDir::new("limit");
        let mut spec = spec(SourceType::Tarball);
        spec.tarball_url = Some(serve_once(vec![7u8; 5000], with_length).await);
        let err = materialize(&spec, tmp.path(), &small, None, &Cancel::default())
            .await
            .unwrap_err();
        assert!(matches!(err, SourceError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("limit of 1000 bytes"), "{err}");
    }

    let tmp = TempDir::new("status");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = socket.read(&mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    });
    let mut spec = spec(SourceType::Tarball);
    spec.tarball_url = Some(format!("http://{address}/x.tgz"));
    let err = materialize(&spec, tmp.path(), &small, None, &Cancel::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
}
