//! A build task that panics ends its build FAILED with a closing line, and frees its slot.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actor_builds::settings::BuildIsolation;
use actor_builds::worker::executor::{Executor, LocalExecutor, ProcessSpec, StartedProcess};

use crate::helpers::{spawn_app_with_executor, str_at};

/// Panics on the first build it is asked to start; runs the others as usual.
struct PanicsOnce(AtomicUsize);

impl Executor for PanicsOnce {
    fn start(&self, spec: ProcessSpec) -> io::Result<StartedProcess> {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("a defect in the executor");
        }
        LocalExecutor::new(BuildIsolation::Auto).start(spec)
    }
}

#[tokio::test]
async fn a_panicking_build_ends_failed_and_frees_its_slot() {
    let app = spawn_app_with_executor(
        &[("WORKER_CONCURRENCY", "1"), ("BUILD_COMMAND", "echo ran")],
        Arc::new(PanicsOnce(AtomicUsize::new(0))),
    )
    .await;
    let actor = app.create_actor("panicky").await;
    let actor_id = str_at(&actor, "/id").to_owned();
    let first = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    app.wait_for_status(&first, &["FAILED"], 20).await;
    let lines = app.log_lines(&first).await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("The build failed: internal error in the worker"),
        "{lines:?}"
    );
    // The one slot is free again: the next build runs.
    let next = str_at(&app.create_build(&actor_id).await, "/id").to_owned();
    app.wait_for_status(&next, &["SUCCEEDED"], 20).await;
    assert!(app.log_lines(&next).await.iter().any(|l| l == "ran"));
}
