use crate::helpers::{data, error_type, is_timestamp, spawn_app};
use actor_builds::storage::users;

#[tokio::test]
async fn users_me_and_token_rules() {
    let app = spawn_app().await;
    let me = data(app.get("/v2/users/me").send().await.expect("me")).await;
    assert_eq!(me["id"], app.user_id.as_str());
    assert_eq!(me["username"], "jane");
    assert!(is_timestamp(&me["createdAt"]));

    let res = app
        .client
        .get(app.url(&format!("/v2/users/me?token={}", app.token)))
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200);

    let res = app
        .client
        .get(app.url("/v2/users/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "token-not-provided");

    let res = app
        .client
        .get(app.url("/v2/users/me"))
        .bearer_auth("apify_api_unknown")
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "user-or-token-not-found");

    // A revoked token stops working at once; a short or ambiguous prefix revokes nothing.
    assert_eq!(
        users::revoke_token(&app.pool, &app.token[..8]).await.ok(),
        Some(users::Revocation::NoMatch)
    );
    assert_eq!(
        users::revoke_token(&app.pool, &app.token[..14]).await.ok(),
        Some(users::Revocation::Revoked)
    );
    let res = app.get("/v2/users/me").send().await.expect("me");
    assert_eq!(res.status(), 401);
    assert_eq!(error_type(res).await, "user-or-token-not-found");
}

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let stored: Vec<(Vec<u8>, String)> = sqlx::query_as("SELECT token_hash, prefix FROM tokens")
        .fetch_all(&app.pool)
        .await
        .expect("tokens");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0.len(), 32);
    assert!(app.token.starts_with(&stored[0].1));
    assert!(app.token.len() >= 43 + 10, "at least 32 bytes of entropy");
    assert!(!stored[0]
        .0
        .windows(8)
        .any(|w| app.token.as_bytes().windows(8).any(|t| t == w)));
}

/// `GET /v2/users/{userId}`: anyone may read a user's public information (what `apify actors
/// info` asks for), by id or by username; an unknown one is 404.
#[tokio::test]
async fn public_user_info_by_id_or_username() {
    let app = spawn_app().await;
    for key in [app.user_id.as_str(), "jane"] {
        let res = app
            .client
            .get(app.url(&format!("/v2/users/{key}")))
            .send()
            .await
            .expect("user");
        assert_eq!(res.status(), 200, "{key}");
        let user = data(res).await;
        assert_eq!(
            user,
            serde_json::json!({"username": "jane", "profile": {}}),
            "{key}"
        );
    }
    let res = app.get("/v2/users/nobody-here").send().await.expect("user");
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(res).await, "record-not-found");
    // `me` is still the token's owner, not a user named "me".
    let me = data(app.get("/v2/users/me").send().await.expect("me")).await;
    assert_eq!(me["id"], app.user_id.as_str());
}
