use serde_json::Value;

use crate::helpers::{data, error_type, spawn_app, str_at};

/// 2,500 builds: offset, limit, desc and total; limit above 1000 is clamped; 0 means default.
#[tokio::test]
async fn offset_pagination_of_builds() {
    let app = spawn_app().await;
    let actor = app.create_actor("paged").await;
    let actor_id = str_at(&actor, "/id");
    // Insert directly: this test is about reading, and 2,500 HTTP creations add nothing.
    sqlx::query(
        "INSERT INTO builds (id, act_id, user_id, version_number, build_number_int, meta, options, act_version, started_at)
         SELECT lpad(n::text, 17, 'B'), $1, $2, '0.1', n, '{\"origin\":\"API\"}', '{}', '{}',
                timestamptz '2026-01-01' + (n / 3) * interval '1 millisecond'
         FROM generate_series(1, 2500) AS n",
    )
    .bind(actor_id)
    .bind(&app.user_id)
    .execute(&app.pool)
    .await
    .expect("seed");
    let expected: Vec<String> = sqlx::query_scalar("SELECT id FROM builds ORDER BY started_at, id")
        .fetch_all(&app.pool)
        .await
        .expect("ids");

    let page = |query: String| {
        let req = app.get(&format!("/v2/actor-builds{query}"));
        async move {
            let res = req.send().await.expect("list");
            assert_eq!(res.status(), 200);
            data(res).await
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items: {page}"))
            .iter()
            .map(|b| str_at(b, "/id").to_owned())
            .collect()
    };

    let first = page(String::new()).await;
    assert_eq!(
        (
            first["total"].as_i64(),
            first["offset"].as_i64(),
            first["limit"].as_i64(),
            first["count"].as_i64()
        ),
        (Some(2500), Some(0), Some(1000), Some(1000))
    );
    assert_eq!(first["desc"], false);
    assert_eq!(ids(&first), expected[..1000]);

    let middle = page("?offset=1200&limit=100".into()).await;
    assert_eq!(middle["count"], 100);
    assert_eq!(middle["total"], 2500);
    assert_eq!(ids(&middle), expected[1200..1300]);

    let last = page("?offset=2450&limit=100".into()).await;
    assert_eq!(last["count"], 50);
    assert_eq!(ids(&last), expected[2450..]);

    let beyond = page("?offset=5000".into()).await;
    assert_eq!(beyond["count"], 0);
    assert_eq!(beyond["total"], 2500);

    let desc = page("?desc=1&limit=10".into()).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(ids(&desc), reversed[..10]);
    assert_eq!(desc["desc"], true);

    let clamped = page("?limit=5000".into()).await;
    assert_eq!(clamped["limit"], 1000);
    assert_eq!(clamped["count"], 1000);
    let zero = page("?limit=0".into()).await;
    assert_eq!(zero["limit"], 1000);

    // Walking every page with the offsets gives every build once, in order.
    let mut walked = Vec::new();
    let mut offset = 0;
    loop {
        let p = page(format!("?offset={offset}&limit=700")).await;
        let got = ids(&p);
        if got.is_empty() {
            break;
        }
        offset += got.len();
        walked.extend(got);
    }
    assert_eq!(walked, expected);

    for bad in ["?limit=-1", "?offset=x", "?desc=yes"] {
        let res = app
            .get(&format!("/v2/actor-builds{bad}"))
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 400, "{bad}");
        assert_eq!(error_type(res).await, "invalid-parameter");
    }
}
