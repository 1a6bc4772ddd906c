//! Sources under attack: local repositories, internal addresses, archive bombs, aborts while
//! sources are written, deep trees left behind, private work directories, and the leftovers of
//! builds that ended elsewhere.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{data, serve_file, spawn_app_with, str_at, TestApp};

/// Creates an Actor with `version` (as 0.1) and starts a build of it; returns the build id.
async fn start_build(app: &TestApp, name: &str, version: Value) -> String {
    let mut version = version;
    version["versionNumber"] = json!("0.1");
    let res = app
        .post("/v2/actors")
        .json(&json!({"name": name, "versions": [version]}))
        .send()
        .await
        .expect("actor");
    assert_eq!(res.status(), 201, "create actor {name}");
    let actor = data(res).await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    str_at(&build, "/id").to_owned()
}

async fn build_to_end(app: &TestApp, name: &str, version: Value) -> (Value, String) {
    let id = start_build(app, name, version).await;
    let build = app
        .wait_for_status(&id, &["SUCCEEDED", "FAILED", "ABORTED", "TIMED-OUT"], 60)
        .await;
    let log = app.log(&id).await;
    (build, log)
}

/// A server on 127.0.0.1 that accepts connections, counts them and never answers.
async fn silent_server() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, seen)
}

fn tar_gz(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, content) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive
            .append_data(&mut header, name, content.as_slice())
            .expect("append");
    }
    archive.into_inner().expect("tar").finish().expect("gzip")
}

fn tarball(url: &str) -> Value {
    json!({"sourceType": "TARBALL", "tarballUrl": url})
}

fn git_repo(url: &str) -> Value {
    json!({"sourceType": "GIT_REPO", "gitRepoUrl": url})
}

#[tokio::test]
async fn git_refuses_local_repositories() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "2"), ("BUILD_COMMAND", "true")]).await;
    let repo = app.work_dir.join("host-repo");
    std::fs::create_dir_all(&repo).expect("dir");
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&repo)
        .status()
        .expect("git");
    assert!(git.success());
    for (i, url) in [
        format!("file://{}", repo.display()),
        repo.display().to_string(),
        "ext::sh -c touch% /tmp/x".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let (build, log) = build_to_end(&app, &format!("local-{i}"), git_repo(url)).await;
        assert_eq!(build["status"], "FAILED", "{url}: {log}");
        assert!(log.contains("not allowed"), "{url}: {log}");
    }
}

#[tokio::test]
async fn internal_addresses_are_refused() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_COMMAND", "true"),
        ("SOURCE_ALLOW_PRIVATE_TARGETS", "false"),
    ])
    .await;
    let (port, seen) = silent_server().await;
    let cases = [
        tarball(&format!("http://127.0.0.1:{port}/x.tgz")),
        tarball(&format!("http://localhost:{port}/x.tgz")),
        tarball(&format!("http://[::ffff:127.0.0.1]:{port}/x.tgz")),
        git_repo(&format!("http://127.0.0.1:{port}/repo.git")),
        git_repo(&format!("http://[::1]:{port}/repo.git")),
        git_repo(&format!("git://localhost:{port}/repo.git")),
    ];
    for (i, version) in cases.into_iter().enumerate() {
        let (build, log) = build_to_end(&app, &format!("internal-{i}"), version.clone()).await;
        assert_eq!(build["status"], "FAILED", "{version}: {log}");
        assert!(log.contains("the address is refused"), "{version}: {log}");
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing was fetched");
}

#[tokio::test]
async fn own_record_urls_are_read_from_storage() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILD_COMMAND", "cat marker.txt"),
        ("SOURCE_ALLOW_PRIVATE_TARGETS", "false"),
    ])
    .await;
    let res = app
        .post("/v2/key-value-stores?name=actor-own-source")
        .send()
        .await
        .expect("store");
    let store = data(res).await;
    let store_id = str_at(&store, "/id");
    let secret = str_at(&store, "/urlSigningSecretKey");
    let archive = tar_gz(&[("marker.txt".into(), b"from the store".to_vec())]);
    let path = format!("/v2/key-value-stores/{store_id}/records/version-0.1.tgz");
    let res = app
        .request(Method::PUT, &path)
        .body(archive)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 201);
    let signature = actor_builds::domain::signature::hmac_signature(secret, "version-0.1.tgz");
    let signed = app.url(&format!(
        "{path}?disableRedirect=true&signature={signature}"
    ));
    let (build, log) = build_to_end(&app, "own-record", tarball(&signed)).await;
    assert_eq!(build["status"], "SUCCEEDED", "{log}");
    assert!(log.contains("from the store"), "{log}");

    let tampered = app.url(&format!("{path}?signature=x{signature}"));
    let (build, log) = build_to_end(&app, "own-record-tampered", tarball(&tampered)).await;
    assert_eq!(build["status"], "FAILED", "{log}");
    assert!(log.contains("signature does not grant"), "{log}");
}

#[tokio::test]
async fn archive_bombs_stop_at_the_limits() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "2"),
        ("BUILD_COMMAND", "true"),
        ("SOURCE_MAX_UNPACKED_BYTES", "1000000"),
        ("SOURCE_MAX_ENTRIES", "50"),
    ])
    .await;
    let zeros = vec![0u8; 20_000_000];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("bomb.bin", options).expect("zip");
    zip.write_all(&zeros).expect("zip");
    let zip = zip.finish().expect("zip").into_inner();
    assert!(zip.len() < 100_000, "a bomb: {} bytes", zip.len());
    let tar = tar_gz(&[("bomb.bin".into(), zeros)]);
    assert!(tar.len() < 100_000, "a bomb: {} bytes", tar.len());
    let many: Vec<(String, Vec<u8>)> = (0..200).map(|i| (format!("f{i}"), vec![])).collect();
    let many = tar_gz(&many);

    for (name, body, limit) in [
        ("zip-bomb", zip, "SOURCE_MAX_UNPACKED_BYTES"),
        ("tar-bomb", tar, "SOURCE_MAX_UNPACKED_BYTES"),
        ("many-entries", many, "SOURCE_MAX_ENTRIES"),
    ] {
        let url = serve_file(body, "source").await;
        let (build, log) = build_to_end(&app, name, tarball(&url)).await;
        assert_eq!(build["status"], "FAILED", "{name}: {log}");
        assert!(log.contains(limit), "{name}: {log}");
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    walk(dir).0
}

/// Files and folders under `dir`, without following links.
fn walk(dir: &std::path::Path) -> (usize, usize) {
    let (mut files, mut dirs) = (0, 0);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs += 1;
                pending.push(entry.path());
            } else {
                files += 1;
            }
        }
    }
    (files, dirs)
}

#[tokio::test]
async fn abort_stops_unpacking() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", "true")]).await;
    let entries: Vec<(String, Vec<u8>)> = (0..150_000)
        .map(|i| (format!("many/{i}"), vec![]))
        .collect();
    let url = serve_file(tar_gz(&entries), "source").await;
    let id = start_build(&app, "many-files", tarball(&url)).await;
    let work = app.work_dir.join(&id);
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_files(&work) < 1000 {
        assert!(Instant::now() < deadline, "unpacking never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    app.wait_for_status(&id, &["ABORTED"], 30).await;
    // Writing stopped before ABORTED: from here on the tree only shrinks, and goes.
    let mut last = count_files(&work);
    let gone_by = Instant::now() + Duration::from_secs(20);
    while work.exists() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count_files(&work);
        assert!(now <= last, "still unpacking after ABORTED: {last} → {now}");
        last = now;
        assert!(
            Instant::now() < gone_by,
            "the work directory is still there"
        );
    }
    assert!(last < 150_000, "the archive was unpacked to the end");
}

/// The processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[tokio::test]
async fn abort_kills_a_hanging_git_clone() {
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", "true")]).await;
    let (port, seen) = silent_server().await;
    let url = format!("http://127.0.0.1:{port}/hanging-{}.git", app.user_id);
    let id = start_build(&app, "hanging-git", git_repo(&url)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.load(Ordering::SeqCst) == 0 || processes_with(&url).is_empty() {
        assert!(Instant::now() < deadline, "git never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let res = app
        .post(&format!("/v2/actor-builds/{id}/abort"))
        .send()
        .await
        .expect("abort");
    assert_eq!(res.status(), 200);
    app.wait_for_status(&id, &["ABORTED"], 30).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_with(&url);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "git outlived its build: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_very_deep_tree_is_removed() {
    let command =
        "perl -e 'for (1..20000) { mkdir \"a\" or die; chdir \"a\" or die } print \"deep\\n\"'";
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", command)]).await;
    let (build, log) = build_to_end(&app, "deep", json!({"sourceType": "SOURCE_FILES"})).await;
    assert_eq!(build["status"], "SUCCEEDED", "{log}");
    assert!(log.contains("deep"), "{log}");
    let work = app.work_dir.join(str_at(&build, "/id"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while work.exists() {
        assert!(Instant::now() < deadline, "the deep tree is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn work_directories_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app_with(&[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", "sleep 5")]).await;
    let id = start_build(&app, "private", json!({"sourceType": "SOURCE_FILES"})).await;
    let work = app.work_dir.join(&id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !work.exists() {
        assert!(Instant::now() < deadline, "no work directory");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for dir in [&work, &app.work_dir] {
        let mode = std::fs::metadata(dir).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}: {mode:o}", dir.display());
    }
}

#[tokio::test]
async fn leftovers_of_ended_builds_are_removed() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        ("BUILD_COMMAND", "if [ -e slow ]; then sleep 30; fi"),
    ])
    .await;
    // The only slot is busy, so the builds below stay with the test.
    let busy = app.create_actor_with_files("busy", &[("slow", "")]).await;
    let busy = app.create_build(str_at(&busy, "/id")).await;
    let busy = str_at(&busy, "/id").to_owned();
    app.wait_for_status(&busy, &["RUNNING"], 30).await;
    let actor = app.create_actor("leftovers").await;
    let actor_id = str_at(&actor, "/id");
    // Two builds another worker held: one ended (rescued), one still running there.
    let ended = str_at(&app.create_build(actor_id).await, "/id").to_owned();
    app.force_status(&ended, "FAILED").await;
    let running = str_at(&app.create_build(actor_id).await, "/id").to_owned();
    app.force_status(&running, "RUNNING").await;
    sqlx::query(
        "UPDATE builds SET worker_id = 'w-elsewhere', lease_expires_at = now() + interval '1 hour'
         WHERE id = $1",
    )
    .bind(&running)
    .execute(&app.pool)
    .await
    .expect("a build running elsewhere");
    let unknown = "ZZZZZZZZZZZZZZZZZ";
    for id in [ended.as_str(), running.as_str(), unknown] {
        std::fs::create_dir_all(app.work_dir.join(id).join("left/behind")).expect("leftover");
    }
    let not_a_build = app.work_dir.join("not-a-build");
    std::fs::create_dir_all(&not_a_build).expect("dir");
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.work_dir.join(&ended).exists() || app.work_dir.join(unknown).exists() {
        assert!(Instant::now() < deadline, "the leftovers are still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        app.work_dir.join(&running).exists(),
        "the directory of a build running elsewhere stays"
    );
    assert!(
        app.work_dir.join(&busy).exists(),
        "this worker's own build keeps its directory"
    );
    assert!(not_a_build.exists(), "only build directories are touched");
}
