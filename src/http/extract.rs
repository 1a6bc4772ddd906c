//! Request parsing shared by every handler: the caller's token, query parameters and JSON bodies.

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::state::AppState;
use crate::storage::users::{self, User};

/// Largest accepted request body, before and after decompression.
pub const BODY_LIMIT: usize = 9_437_184;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state is missing")))
}

/// The token of a request: `Authorization: Bearer <token>` or `?token=<token>`.
fn token_of(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        if !token.is_empty() {
            return Some(token.to_owned());
        }
    }
    Query::parse(req)
        .ok()?
        .get("token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

async fn authenticate(req: HttpRequest) -> Result<Option<User>, ApiError> {
    let Some(token) = token_of(&req) else {
        return Ok(None);
    };
    let state = state(&req)?;
    if let Some(limiter) = &state.rate_limiter {
        if !limiter.allow(&token) {
            return Err(ApiError::RateLimitExceeded);
        }
    }
    match users::user_by_token(&state.pool, &token).await? {
        Some(user) => Ok(Some(user)),
        None => Err(ApiError::InvalidToken),
    }
}

/// The authenticated user. Missing token: 401 `token-not-provided`; unknown: 401 `user-or-token-not-found`.
pub struct Caller(pub User);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(req).await? {
                Some(user) => Ok(Caller(user)),
                None => Err(ApiError::TokenNotProvided),
            }
        })
    }
}

/// The user when a token is given; a token that is present but invalid is still a 401.
pub struct MaybeCaller(pub Option<User>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(MaybeCaller) })
    }
}

/// The raw query parameters of a request (the last value of a repeated name wins), with the
/// API's rules for reading one value; a malformed value is 400 `invalid-parameter`. Handlers read
/// their parameters through a typed [`FromQuery`] struct and [`query`] rather than by name.
pub struct Query {
    values: HashMap<String, String>,
    /// The names looked up, so that tests can compare them with the documented parameters.
    #[cfg(test)]
    read: std::cell::RefCell<Vec<String>>,
}

impl Query {
    pub fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        Ok(Self::from_query_string(req.query_string()))
    }

    pub fn from_query_string(query_string: &str) -> Self {
        Query {
            values: form_urlencoded::parse(query_string.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            #[cfg(test)]
            read: Default::default(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        #[cfg(test)]
        self.read.borrow_mut().push(key.to_owned());
        self.values.get(key).map(String::as_str)
    }

    /// The value, or `None` when it is absent or empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// `true`/`1`/`false`/`0`, case-insensitive.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(Some(false)),
            Some(v) => Err(ApiError::InvalidParameter(format!(
                "Parameter {key:?} must be true, false, 1 or 0, not {v:?}"
            ))),
        }
    }

    pub fn non_negative(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::InvalidParameter(format!(
                        "Parameter {key:?} must be a non-negative integer, not {v:?}"
                    ))
                }),
        }
    }

    /// A number of seconds, fractional allowed, clamped to [0, `max_secs`]; absent is 0.
    pub fn seconds(&self, key: &str, max_secs: f64) -> Result<Duration, ApiError> {
        let secs = match self.get(key) {
            None | Some("") => 0.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| !s.is_nan())
                .ok_or_else(|| {
                    ApiError::InvalidParameter(format!(
                        "Parameter {key:?} must be a number of seconds, not {v:?}"
                    ))
                })?,
        };
        Ok(Duration::from_secs_f64(secs.clamp(0.0, max_secs)))
    }

    /// The names looked up so far.
    #[cfg(test)]
    pub fn names_read(&self) -> Vec<String> {
        self.read.borrow().clone()
    }
}

/// The typed query parameters of an operation. The same struct derives `utoipa::IntoParams`, so
/// what `params(...)` documents is what the handler reads. Unknown parameters are ignored; the
/// first malformed one, in the order `from_query` reads them, is the error.
pub trait FromQuery: Sized {
    fn from_query(query: &Query) -> Result<Self, ApiError>;
}

/// Two sets of parameters of one operation, read in order.
impl<A: FromQuery, B: FromQuery> FromQuery for (A, B) {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        Ok((A::from_query(query)?, B::from_query(query)?))
    }
}

/// The typed query parameters of a request.
///
/// A function rather than an extractor: handlers call it where the parameters were always
/// checked, so that a 401 for the token or a 404 for the path still comes before a 400 for a
/// parameter exactly as before (extractors that fail at once would win over authentication).
pub fn query<T: FromQuery>(req: &HttpRequest) -> Result<T, ApiError> {
    T::from_query(&Query::parse(req)?)
}

/// A JSON request body, possibly gzip or brotli compressed, at most `BODY_LIMIT` bytes either way.
/// Errors name the field that did not fit.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { parse_json(&body.await?).map(JsonBody) })
    }
}

/// A request body as bytes, decoded from gzip or brotli when its `Content-Encoding` says so, at
/// most `BODY_LIMIT` bytes either way.
pub struct RawBody(pub Vec<u8>);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { body.await.map(RawBody) })
    }
}

/// Reads the whole body and decodes it; 413 when it is larger than `BODY_LIMIT`, before or after
/// decoding, 415 for an unknown `Content-Encoding`.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<Vec<u8>, ApiError>> {
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        let encoding = Encoding::parse(encoding.as_deref())?;
        if declared_len.is_some_and(|n| n > BODY_LIMIT) {
            return Err(ApiError::RequestTooLarge(BODY_LIMIT));
        }
        let mut raw = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::InvalidInput(format!("Could not read the body: {e}")))?;
            if raw.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::RequestTooLarge(BODY_LIMIT));
            }
            raw.extend_from_slice(&chunk);
        }
        encoding.decode(&raw)
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidInput(
            "The request body must be a JSON object; it is empty".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidInput(format!("The request body is not valid JSON: {e}")))?;
    // Postgres stores no NUL character, in text or in JSON: refuse it here, naming the field.
    if let Some(path) = nul_at(&value, "") {
        return Err(ApiError::InvalidInput(format!(
            "Field {path:?} contains a NUL character"
        )));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::InvalidInput(format!("The request body is invalid: {inner}"))
        } else {
            ApiError::InvalidInput(format!("Field {path:?} is invalid: {inner}"))
        }
    })
}

/// Where a NUL character appears in a key or a string, as `a.b[2]`.
fn nul_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
            ".".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, &here)
            }
        }),
        _ => None,
    }
}

enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("identity") => Ok(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Encoding::Gzip),
            Some("br") => Ok(Encoding::Brotli),
            Some(other) => Err(ApiError::UnsupportedContentEncoding(other.to_owned())),
        }
    }

    fn decode(&self, raw: &[u8]) -> Result<Vec<u8>, ApiError> {
        let reader: Box<dyn Read + '_> = match self {
            Encoding::Identity => return Ok(raw.to_vec()),
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
            Encoding::Brotli => Box::new(brotli::Decompressor::new(raw, 4096)),
        };
        let mut out = Vec::new();
        // One byte past the limit tells a body that is too large from one that fits exactly.
        reader
            .take(BODY_LIMIT as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::InvalidInput(format!("The compressed body could not be decoded: {e}"))
            })?;
        if out.len() > BODY_LIMIT {
            return Err(ApiError::RequestTooLarge(BODY_LIMIT));
        }
        Ok(out)
    }
}
