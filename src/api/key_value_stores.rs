//! Key-value stores, as much of them as the Apify CLI needs: get-or-create by name, get a store,
//! and put, get and delete records. Records are read with a token of the store's owner or with a
//! URL signed by the store's `urlSigningSecretKey` (see `domain::signature`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::IntoParams;

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::models::{KeyValueStore, RecordBytes};
use super::service_openapi::ApiErrors;
use crate::domain::signature;
use crate::domain::ActorRef;
use crate::http::error::ApiError;
use crate::http::extract::{self, Caller, FromQuery, MaybeCaller, Query, RawBody};
use crate::http::respond;
use crate::state::AppState;
use crate::storage::key_value_stores::{self as stores, StoreRecord};
use crate::storage::users::User;

/// The content type of a record written without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
const MAX_NAME_LEN: usize = 63;
const MAX_KEY_LEN: usize = 256;
const MAX_CONTENT_TYPE_LEN: usize = 1000;

/// Store names as Apify takes them: letters, digits and hyphens, not starting or ending with a
/// hyphen, at most 63 characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidParameter(format!(
            "Parameter \"name\" must be 1-63 letters, digits and hyphens, not starting or ending with a hyphen, not {name:?}"
        )))
    }
}

/// Record keys as Apify takes them: 1-256 characters of `a-zA-Z0-9!-_.'()`.
fn check_key(key: &str) -> Result<(), ApiError> {
    let ok = (1..=MAX_KEY_LEN).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!-_.'()".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidParameter(format!(
            "Record key {key:?} must be 1-256 characters of letters, digits and !-_.'()"
        )))
    }
}

/// The parameters of `POST /v2/key-value-stores`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreNameQuery {
    /// The store's name; the caller's store of that name is returned when it exists. Without a name, a new unnamed store
    #[param(pattern = r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")]
    pub name: Option<String>,
}

impl FromQuery for StoreNameQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let name = query.non_empty("name").map(str::to_owned);
        if let Some(name) = &name {
            check_name(name)?;
        }
        Ok(StoreNameQuery { name })
    }
}

/// The parameters of reading a record.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RecordQuery {
    /// A signature made with the store's urlSigningSecretKey; grants reading without a token
    #[param(value_type = Option<String>)]
    pub signature: String,
    /// Accepted for compatibility; the value is always answered directly
    #[allow(dead_code)] // Read only to be checked.
    pub disable_redirect: Option<bool>,
    /// Answer with Content-Disposition: attachment
    #[param(value_type = Option<bool>)]
    pub attachment: bool,
}

impl FromQuery for RecordQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let disable_redirect = query.bool("disableRedirect")?;
        let attachment = query.bool("attachment")?.unwrap_or(false);
        let signature = query.get("signature").unwrap_or_default().to_owned();
        Ok(RecordQuery {
            signature,
            disable_redirect,
            attachment,
        })
    }
}

/// The store a path names (id, `username~name`, or `~name` for the caller's), whoever owns it.
async fn find(
    state: &AppState,
    caller: Option<&User>,
    store_id: &str,
) -> Result<Option<StoreRecord>, ApiError> {
    let found = match ActorRef::parse(store_id) {
        None => None,
        Some(ActorRef::Id(id)) => stores::find_by_id(&state.pool, &id).await?,
        Some(ActorRef::Name { username, name }) => {
            match username.as_deref().or(caller.map(|u| u.username.as_str())) {
                Some(username) => stores::find_by_name(&state.pool, username, &name).await?,
                None => None,
            }
        }
    };
    Ok(found)
}

/// The caller's store named by the path; another user's store is 404 as if absent.
async fn load(state: &AppState, user: &User, store_id: &str) -> Result<StoreRecord, ApiError> {
    find(state, Some(user), store_id)
        .await?
        .filter(|s| s.user_id == user.id)
        .ok_or(ApiError::NotFound("Key-value store"))
}

/// `POST /v2/key-value-stores`
#[utoipa::path(
    operation_id = "key_value_stores_get_or_create",
    post,
    path = "/v2/key-value-stores",
    tag = "key-value-stores",
    params(StoreNameQuery),
    responses(
        (status = 200, description = "The caller's existing store of that name", body = Data<KeyValueStore>),
        (status = 201, description = "The new store", body = Data<KeyValueStore>),
        ApiErrors
    )
)]
pub async fn get_or_create(
    state: web::Data<AppState>,
    Caller(user): Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let StoreNameQuery { name } = extract::query(&req)?;
    let (store, created) = stores::get_or_create(&state.pool, &user.id, name.as_deref()).await?;
    let view = KeyValueStore::from(&store);
    Ok(if created {
        respond::created(&format!("/v2/key-value-stores/{}", store.id), view)
    } else {
        respond::ok(view)
    })
}

/// `GET /v2/key-value-stores/{storeId}`
#[utoipa::path(
    operation_id = "key_value_stores_get",
    get,
    path = "/v2/key-value-stores/{storeId}",
    tag = "key-value-stores",
    params(
        ("storeId" = String, Path, description = "The store's id, `username~name` or `~name`")
    ),
    responses(
        (status = 200, description = "The store", body = Data<KeyValueStore>),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let store = load(&state, &user, &path).await?;
    Ok(respond::ok(KeyValueStore::from(&store)))
}

/// `PUT /v2/key-value-stores/{storeId}/records/{key}`: the body is the value, kept with its
/// `Content-Type`.
#[utoipa::path(
    operation_id = "key_value_stores_put_record",
    put,
    path = "/v2/key-value-stores/{storeId}/records/{key}",
    tag = "key-value-stores",
    params(
        ("storeId" = String, Path, description = "The store's id, `username~name` or `~name`"),
        ("key" = String, Path, pattern = r"^[a-zA-Z0-9!\-_.'()]{1,256}$", description = "The record's key: 1-256 characters of letters, digits and !-_.'()")
    ),
    request_body(content = RecordBytes, description = "The value, of any content type (possibly gzip or br encoded), at most 9,437,184 bytes", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored"),
        ApiErrors
    )
)]
pub async fn put_record(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    RawBody(value): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (store_id, key) = path.into_inner();
    check_key(&key)?;
    let content_type = match req.headers().get(header::CONTENT_TYPE) {
        None => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_CONTENT_TYPE_LEN)
            .ok_or_else(|| {
                ApiError::InvalidInput(
                    "The Content-Type header must be printable ASCII of at most 1000 characters"
                        .into(),
                )
            })?
            .to_owned(),
    };
    let store = load(&state, &user, &store_id).await?;
    stores::put_record(&state.pool, &store.id, &key, &content_type, &value).await?;
    Ok(HttpResponse::Created().finish())
}

/// `GET /v2/key-value-stores/{storeId}/records/{key}` (and `HEAD`): the value as it was stored,
/// with its content type. Without a token, only with a valid `signature`.
#[utoipa::path(
    operation_id = "key_value_stores_get_record",
    get,
    path = "/v2/key-value-stores/{storeId}/records/{key}",
    tag = "key-value-stores",
    security((), ("token" = [])),
    params(
        ("storeId" = String, Path, description = "The store's id, `username~name` or `~name`"),
        ("key" = String, Path, pattern = r"^[a-zA-Z0-9!\-_.'()]{1,256}$", description = "The record's key"),
        RecordQuery
    ),
    responses(
        (status = 200, description = "The value, with the content type it was stored with", content_type = "*/*", body = RecordBytes),
        ApiErrors
    )
)]
pub async fn get_record(
    state: web::Data<AppState>,
    MaybeCaller(caller): MaybeCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let RecordQuery {
        signature,
        attachment,
        ..
    } = extract::query(&req)?;
    let (store_id, key) = path.into_inner();
    let store = find(&state, caller.as_ref(), &store_id).await?;
    let now = chrono::Utc::now().timestamp_millis();
    let store = store.filter(|s| {
        caller.as_ref().is_some_and(|u| u.id == s.user_id)
            || signature::allows_record(&s.url_signing_secret_key, &s.id, &key, &signature, now)
    });
    let Some(store) = store else {
        return Err(match caller {
            None => ApiError::TokenNotProvided,
            Some(_) => ApiError::NotFound("Key-value store"),
        });
    };
    check_key(&key)?;
    let record = stores::get_record(&state.pool, &store.id, &key)
        .await?
        .ok_or(ApiError::NotFound("Record"))?;
    let content_type = HeaderValue::from_str(&record.content_type)
        .unwrap_or(HeaderValue::from_static(DEFAULT_CONTENT_TYPE));
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, content_type));
    if attachment {
        response.insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{key}\""),
        ));
    }
    Ok(response.body(record.value))
}

/// `DELETE /v2/key-value-stores/{storeId}/records/{key}`: 204 whether or not it was there.
#[utoipa::path(
    operation_id = "key_value_stores_delete_record",
    delete,
    path = "/v2/key-value-stores/{storeId}/records/{key}",
    tag = "key-value-stores",
    params(
        ("storeId" = String, Path, description = "The store's id, `username~name` or `~name`"),
        ("key" = String, Path, pattern = r"^[a-zA-Z0-9!\-_.'()]{1,256}$", description = "The record's key")
    ),
    responses(
        (status = 204, description = "Deleted (or was not there)"),
        ApiErrors
    )
)]
pub async fn delete_record(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (store_id, key) = path.into_inner();
    check_key(&key)?;
    let store = load(&state, &user, &store_id).await?;
    stores::delete_record(&state.pool, &store.id, &key).await?;
    Ok(respond::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        for ok in ["a", "actor-AbCdEfGhIjKlMnOpQ-source", &"x".repeat(63)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a_b", "a~b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for ok in [
            "version-0.0.zip",
            "INPUT",
            "a!b-c_d.e'f(g)",
            &"k".repeat(256),
        ] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ключ", &"k".repeat(257)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
