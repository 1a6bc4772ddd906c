//! Unit tests of the local executor in both isolations.
use super::*;

fn spec(command: &str) -> ProcessSpec {
    ProcessSpec {
        work_dir: std::env::temp_dir(),
        command: command.into(),
        args: vec!["--build-arg".into(), "A=b c".into()],
        env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
    }
}

fn executors() -> Vec<LocalExecutor> {
    let mut all = vec![LocalExecutor::new(BuildIsolation::Processes)];
    if namespaces_available() {
        all.push(LocalExecutor::new(BuildIsolation::Namespaces));
    }
    all
}

#[tokio::test]
async fn lines_args_and_exit_code() {
    for executor in executors() {
        let mut started = executor
            .start(spec("echo one; echo \"$2\" >&2; exit 3"))
            .expect("start");
        let exit = started.handle.wait().await.expect("wait");
        assert_eq!(exit, Exit::Code(3));
        let mut lines = Vec::new();
        while let Some(line) = started.output.recv().await {
            lines.push(line);
        }
        lines.sort();
        assert_eq!(lines, ["A=b c", "one"]);
    }
}

#[tokio::test]
async fn stop_kills_everything_even_when_term_is_ignored() {
    for executor in executors() {
        let mark = format!("mark-{}", crate::domain::new_id());
        let command = format!(
            "trap '' TERM; setsid sh -c \"trap '' TERM; sleep 60; : {mark}\" & \
             (trap '' TERM; sh -c 'sleep 60; : {mark}') & echo ready; sleep 60"
        );
        let mut started = executor.start(spec(&command)).expect("start");
        // The shells that hold the command's text are marked too: only once the build says
        // so has it ignored TERM and started both.
        assert_eq!(started.output.recv().await.as_deref(), Some("ready"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while live_with_cmdline(&mark).len() < 2 {
            assert!(Instant::now() < deadline, "{:?}", executor.isolation());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let began = Instant::now();
        started
            .handle
            .stop(Duration::from_millis(300))
            .await
            .expect("stop");
        assert!(
            began.elapsed() >= Duration::from_millis(300),
            "{:?}",
            executor.isolation()
        );
        assert_eq!(live_with_cmdline(&mark), Vec::<i32>::new());
    }
}

#[tokio::test]
async fn nothing_outlives_a_normal_exit_or_a_dropped_handle() {
    for executor in executors() {
        let mark = format!("mark-{}", crate::domain::new_id());
        let command = format!("setsid sh -c 'sleep 60; : {mark}' & sleep 0.2");
        let mut started = executor.start(spec(&command)).expect("start");
        assert_eq!(started.handle.wait().await.expect("wait"), Exit::Code(0));
        started.handle.reap().await;
        assert_eq!(live_with_cmdline(&mark), Vec::<i32>::new());

        let command = format!("setsid sh -c 'sleep 60; : {mark}' & sleep 60");
        let started = executor.start(spec(&command)).expect("start");
        let deadline = Instant::now() + Duration::from_secs(5);
        while live_with_cmdline(&mark).is_empty() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Give the namespace time to be learned as it would be while the build runs.
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(started);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !live_with_cmdline(&mark).is_empty() {
            assert!(Instant::now() < deadline, "{:?}", executor.isolation());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn stop_sends_sigterm_once() {
    for executor in executors() {
        // The trap outlasts any second signal's arrival; each TERM it sees prints a line.
        let command = "trap 'echo term; sleep 0.5; exit 143' TERM; echo ready; \
                       while :; do sleep 0.05; done";
        let mut started = executor.start(spec(command)).expect("start");
        assert_eq!(started.output.recv().await.as_deref(), Some("ready"));
        // Give the namespace time to be learned as it would be while the build runs.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let exit = started
            .handle
            .stop(Duration::from_secs(3))
            .await
            .expect("stop");
        let mut traps = 0;
        while let Some(line) = started.output.recv().await {
            traps += usize::from(line == "term");
        }
        assert_eq!(traps, 1, "{:?}", executor.isolation());
        assert_eq!(exit, Exit::Code(143), "{:?}", executor.isolation());
    }
}
