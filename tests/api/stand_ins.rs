//! Stand-ins for the base images the public Actor templates start FROM, built from busybox with
//! buildah (tests/fixtures/stand-in-images) and pushed to a test registry under the templates'
//! own names, so that every template builds unchanged with nothing pulled from outside.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::registry::{buildah, registries_conf, run, template_dirs, Registry, ScratchDir, RUNC};

/// One name a template starts FROM, and what stands in for it: a stage of the stand-in
/// Dockerfile built with some build arguments.
struct StandIn {
    name: &'static str,
    stage: &'static str,
    args: BuildArgs,
}

type BuildArgs = &'static [(&'static str, &'static str)];

const fn stand_in(name: &'static str, stage: &'static str, args: BuildArgs) -> StandIn {
    StandIn { name, stage, args }
}

/// Every name a template starts FROM.
const STAND_INS: &[StandIn] = &[
    stand_in("apify/actor-node:24", "actor-node", NO_ARGS),
    stand_in(
        "apify/actor-node-playwright:24-1.61.1",
        "actor-node-browser",
        NO_ARGS,
    ),
    stand_in(
        "apify/actor-node-playwright-chrome:24-1.61.1",
        "actor-node-browser",
        NO_ARGS,
    ),
    stand_in(
        "apify/actor-node-playwright-camoufox:24-1.59.1",
        "actor-node-browser",
        NO_ARGS,
    ),
    stand_in(
        "apify/actor-node-puppeteer-chrome:24-24.43.1",
        "actor-node-browser",
        NO_ARGS,
    ),
    stand_in("apify/actor-python:3.14", "actor-python", PYTHON_3_14),
    stand_in("apify/actor-python:3.13", "actor-python", PYTHON_3_13),
    stand_in(
        "apify/actor-python-playwright:3.14-1.61.0",
        "actor-python",
        PYTHON_3_14,
    ),
    stand_in(
        "apify/actor-python-playwright-camoufox:3.14-1.61.0",
        "actor-python",
        PYTHON_3_14,
    ),
    stand_in(
        "apify/actor-python-selenium:3.14",
        "actor-python",
        PYTHON_3_14,
    ),
    stand_in(
        "cypress/browsers:node-24.14.0-chrome-145.0.7632.116-1-ff-148.0-edge-145.0.3800.70-1",
        "cypress-browsers",
        NO_ARGS,
    ),
    stand_in("oven/bun:1.3", "oven-bun", NO_ARGS),
];

const NO_ARGS: BuildArgs = &[];
const PYTHON_3_14: BuildArgs = &[("PYTHON_VERSION", "3.14.0")];
const PYTHON_3_13: BuildArgs = &[("PYTHON_VERSION", "3.13.9")];

/// The stand-in images, pushed to one registry.
pub struct StandIns;

impl StandIns {
    /// Builds the stand-ins in a temp store and pushes each under every name it stands in for
    /// (`docker.io/apify/actor-node:24` is `REGISTRY/apify/actor-node:24`).
    pub fn push(registry: &Registry) -> StandIns {
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "{} is missing: is busybox-static installed?",
            busybox.display()
        );
        let work = ScratchDir::new("stand-ins");
        let context = work.path().join("context");
        copy_tree(&fixture_dir(), &context);
        std::fs::copy(busybox, context.join("busybox")).expect("copy busybox");
        let store = work.path().join("store");
        let mut built = BTreeSet::new();
        for StandIn { name, stage, args } in STAND_INS {
            let image = local_name(stage, args);
            if built.insert(image.clone()) {
                let mut bud = buildah(&store);
                bud.args(["bud", "--layers", "--isolation", "oci", "--runtime", RUNC]);
                for (key, value) in *args {
                    bud.arg("--build-arg").arg(format!("{key}={value}"));
                }
                bud.args(["--target", stage, "-t", &image, "-f"])
                    .arg(context.join("Dockerfile"))
                    .arg(&context);
                run(&mut bud, "buildah");
            }
            run(
                buildah(&store)
                    .args(["push", "--tls-verify=false", &image])
                    .arg(format!("docker://{}/{name}", registry.host())),
                "buildah",
            );
        }
        StandIns
    }

    /// The names the stand-ins are pushed under.
    pub fn names() -> impl Iterator<Item = &'static str> {
        STAND_INS.iter().map(|stand_in| stand_in.name)
    }
}

/// The local tag of a stage built with `args`.
fn local_name(stage: &str, args: &[(&str, &str)]) -> String {
    let mut name = format!("localhost/stand-in/{stage}");
    for (_, value) in args {
        name.push('-');
        name.push_str(value);
    }
    name
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stand-in-images")
}

/// Copies the tree at `from` to `to`, keeping modes and symbolic links.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("a directory entry");
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            copy_tree(&source, &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).expect("read a link");
            std::os::unix::fs::symlink(link, &target).expect("copy a link");
        } else {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", source.display()));
        }
    }
}

/// The image names a Dockerfile starts FROM, leaving out its own stages.
fn base_images(dockerfile: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dockerfile).expect("read a Dockerfile");
    let mut stages = BTreeSet::new();
    let mut images = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            let image = words
                .iter()
                .skip(1)
                .find(|w| !w.starts_with("--"))
                .expect("FROM names an image");
            if !stages.contains(&image.to_lowercase()) {
                images.push(image.to_string());
            }
            if let [.., as_word, stage] = words.as_slice() {
                if as_word.eq_ignore_ascii_case("AS") {
                    stages.insert(stage.to_lowercase());
                }
            }
        }
    }
    images
}

#[test]
fn every_base_image_of_the_templates_has_a_stand_in() {
    let known: BTreeSet<&str> = StandIns::names().collect();
    for template in template_dirs() {
        for image in base_images(&template.join("Dockerfile")) {
            assert!(
                known.contains(image.as_str()),
                "{} starts FROM {image}, which has no stand-in",
                template.display()
            );
        }
    }
}

/// How many templates build at once (the machine has 2 cores).
const PARALLEL_BUILDS: usize = 3;

/// The stand-ins are enough: each template builds unchanged, straight with buildah.
#[test]
#[ignore = "about 2.5 minutes on 2 cores; run it after changing the stand-ins"]
fn stand_ins_build_every_template_directly() {
    let started = Instant::now();
    let mut registry = Registry::start();
    StandIns::push(&registry);
    let pushed = started.elapsed();
    let work = ScratchDir::new("template-builds");
    let conf = registries_conf(work.path(), &registry);
    let store = work.path().join("store");
    let queue = Mutex::new(template_dirs());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_BUILDS {
            scope.spawn(|| loop {
                let Some(template) = queue.lock().expect("queue").pop() else {
                    return;
                };
                if let Err(log) = build_template(&store, &conf, &template) {
                    failures.lock().expect("failures").push(log);
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!(
        "stand-ins pushed in {pushed:?}, 44 templates built in {:?}",
        started.elapsed() - pushed
    );
    registry.stop();
}

/// Builds one template; the error is its name and buildah's output.
fn build_template(store: &Path, conf: &Path, template: &Path) -> Result<(), String> {
    let name = template.file_name().expect("a name").to_string_lossy();
    let output = buildah(store)
        .env("CONTAINERS_REGISTRIES_CONF", conf)
        .args(["bud", "--isolation", "oci", "--runtime", RUNC])
        .arg("-t")
        .arg(format!("localhost/template/{name}"))
        .arg("-f")
        .arg(template.join("Dockerfile"))
        .arg(template)
        .output()
        .expect("buildah did not start: is buildah installed?");
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{name}: buildah bud {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
