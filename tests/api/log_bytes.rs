//! Bytes of a build's output that Postgres `text` refuses (NUL) are replaced in their own line;
//! the lines around them and the worker's closing line are all kept.

use crate::helpers::{spawn_app_with, str_at};

#[tokio::test]
async fn a_nul_byte_is_replaced_and_loses_no_line() {
    let app = spawn_app_with(&[
        ("WORKER_CONCURRENCY", "1"),
        (
            "BUILD_COMMAND",
            r"echo before; printf 'a\0b\n'; printf '\0\0\n'; echo after",
        ),
    ])
    .await;
    let actor = app.create_actor("nul-bytes").await;
    let id = str_at(&app.create_build(str_at(&actor, "/id")).await, "/id").to_owned();
    app.wait_for_status(&id, &["SUCCEEDED"], 20).await;
    let lines = app.log_lines(&id).await;
    let at = |wanted: &str| lines.iter().position(|l| l == wanted);
    let (Some(before), Some(replaced), Some(only), Some(after), Some(closing)) = (
        at("before"),
        at("a\u{FFFD}b"),
        at("\u{FFFD}\u{FFFD}"),
        at("after"),
        at("The build command ended with exit code 0"),
    ) else {
        panic!("a line is missing: {lines:?}");
    };
    assert!(
        before < replaced && replaced < only && only < after && after < closing,
        "{lines:?}"
    );
}
