//! A `tarballUrl` that names a record of this service's own key-value stores (what `apify push`
//! makes for large sources) is read from storage directly, with the same check the record route
//! makes: a token of the store's owner in the URL, or a signature that grants the record.

use sqlx::PgPool;

use super::{redact_url, SourceError};
use crate::domain::{signature, ActorRef};
use crate::storage::{key_value_stores as stores, users};

/// `/…/v2/key-value-stores/{store}/records/{key}` → (store, key), percent-decoded.
fn record_address(url: &reqwest::Url) -> Option<(String, String)> {
    let segments: Vec<&str> = url.path_segments()?.collect();
    let n = segments.len();
    if n < 5
        || segments[n - 5] != "v2"
        || segments[n - 4] != "key-value-stores"
        || segments[n - 2] != "records"
    {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some((decode(segments[n - 3])?, decode(segments[n - 1])?))
}

/// The record's value when `url` names a record of one of this service's stores; `Ok(None)`
/// when it names none (it is then downloaded like any URL).
pub(super) async fn read_own_record(
    pool: &PgPool,
    url: &str,
) -> Result<Option<Vec<u8>>, SourceError> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(None);
    };
    let Some((store_ref, key)) = record_address(&parsed) else {
        return Ok(None);
    };
    let db = |e: sqlx::Error| SourceError::Internal(format!("reading the record failed: {e}"));
    let store = match ActorRef::parse(&store_ref) {
        Some(ActorRef::Id(id)) => stores::find_by_id(pool, &id).await.map_err(db)?,
        Some(ActorRef::Name {
            username: Some(username),
            name,
        }) => stores::find_by_name(pool, &username, &name)
            .await
            .map_err(db)?,
        _ => None,
    };
    let Some(store) = store else {
        return Ok(None);
    };
    let shown = redact_url(url);
    let query = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let by_owner = match query("token").filter(|t| !t.is_empty()) {
        Some(token) => users::user_by_token(pool, &token)
            .await
            .map_err(db)?
            .is_some_and(|u| u.id == store.user_id),
        None => false,
    };
    let now = chrono::Utc::now().timestamp_millis();
    let signed = signature::allows_record(
        &store.url_signing_secret_key,
        &store.id,
        &key,
        &query("signature").unwrap_or_default(),
        now,
    );
    if !(by_owner || signed) {
        return Err(SourceError::RecordRefused { url: shown });
    }
    match stores::get_record(pool, &store.id, &key)
        .await
        .map_err(db)?
    {
        Some(record) => Ok(Some(record.value)),
        None => Err(SourceError::RecordMissing { url: shown }),
    }
}
