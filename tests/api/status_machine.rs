use actor_builds::domain::BuildStatus;

use crate::helpers::{spawn_app, str_at};

/// The database refuses exactly the moves that `BuildStatus::can_move_to` refuses.
#[tokio::test]
async fn database_mirrors_the_table_of_moves() {
    let app = spawn_app().await;
    let actor = app.create_actor("machine").await;
    let actor_id = str_at(&actor, "/id");
    for from in BuildStatus::ALL {
        for to in BuildStatus::ALL {
            if from == to {
                continue;
            }
            let build = app.create_build(actor_id).await;
            let id = str_at(&build, "/id");
            app.force_status(id, from.as_str()).await;
            let moved = sqlx::query(
                "UPDATE builds SET status = $2,
                    finished_at = CASE WHEN $3 THEN coalesce(finished_at, now()) END
                 WHERE id = $1",
            )
            .bind(id)
            .bind(to.as_str())
            .bind(to.is_terminal())
            .execute(&app.pool)
            .await;
            assert_eq!(
                moved.is_ok(),
                from.can_move_to(to),
                "{from} -> {to}: {moved:?}"
            );
        }
    }
}

/// finishedAt is written once: a second write is refused.
#[tokio::test]
async fn finished_at_is_written_once() {
    let app = spawn_app().await;
    let actor = app.create_actor("finished-once").await;
    let build = app.create_build(str_at(&actor, "/id")).await;
    let id = str_at(&build, "/id");
    app.force_status(id, "SUCCEEDED").await;
    let again =
        sqlx::query("UPDATE builds SET finished_at = now() + interval '1 hour' WHERE id = $1")
            .bind(id)
            .execute(&app.pool)
            .await;
    assert!(again.is_err());
    let no_finish =
        sqlx::query("UPDATE builds SET status = 'RUNNING', finished_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&app.pool)
            .await;
    assert!(no_finish.is_err());
}
