//! Console sessions and CSRF tokens.
//!
//! Signing in with an API token opens a server-side session (`storage::console_sessions`): the
//! cookie holds only its random id, never the token, in an `HttpOnly; SameSite=Strict` cookie
//! whose path is `/console` (so the API never sees it and no script can read it). Every request
//! checks the session and its token again, so sign-out, expiry and a revoked token end it at once.
//!
//! Every state-changing request carries a CSRF token in a hidden form field: an HMAC-SHA256, under
//! a random key of this process, of the session id (or, on the sign-in form, of a random value
//! kept in a second cookie for that form alone). A form from another site can neither read the
//! value nor compute it; a process restart makes open forms stale, which asks for a reload.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ConsoleError;
use crate::state::AppState;
use crate::storage::console_sessions;
use crate::storage::users::User;

/// The cookie that holds the session id of a signed-in user.
pub const SESSION_COOKIE: &str = "console_session";
/// The cookie that binds the sign-in form to the browser that loaded it.
pub const SIGN_IN_COOKIE: &str = "console_sign_in";
/// The form field of every CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The key of this process's CSRF tokens: one block of SHA-256, random.
static KEY: LazyLock<[u8; 64]> = LazyLock::new(|| {
    let mut key = [0u8; 64];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
    key
});

fn mac(purpose: &str, value: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(&(*KEY).into());
    mac.update(purpose.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac
}

/// The CSRF token bound to `value` for `purpose`, as hex.
pub fn csrf_token(purpose: &str, value: &str) -> String {
    hex::encode(mac(purpose, value).finalize().into_bytes())
}

/// Whether `given` is the CSRF token bound to `value` for `purpose` (compared in constant time).
pub fn csrf_matches(purpose: &str, value: &str, given: Option<&str>) -> bool {
    let Some(given) = given.and_then(|g| hex::decode(g.trim()).ok()) else {
        return false;
    };
    mac(purpose, value).verify_slice(&given).is_ok()
}

const SESSION_PURPOSE: &str = "session";
pub const SIGN_IN_PURPOSE: &str = "sign-in";

/// The value of the named cookie, if the request carries it.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// Whether the request reached us over HTTPS (directly or, as a proxy says, before it).
fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// A `Set-Cookie` value for a console cookie: HttpOnly, SameSite=Strict, Path=/console, and
/// Secure when the console is served over HTTPS. It lasts as long as the browser session.
pub fn set_cookie(req: &HttpRequest, name: &str, value: &str) -> String {
    let secure = if is_https(req) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict{secure}")
}

/// A `Set-Cookie` value that removes a console cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Characters that may appear in a cookie value as this module writes it.
pub fn is_cookie_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// A signed-in user: the owner of the live session named by the cookie. Without one, the
/// request is sent to the sign-in page (and back here afterwards, for a GET).
pub struct Session {
    pub user: User,
    id: String,
}

impl Session {
    /// The CSRF token that this session's forms carry.
    pub fn csrf(&self) -> String {
        csrf_token(SESSION_PURPOSE, &self.id)
    }

    /// Refuses (403) a state-changing request whose form lacks this session's CSRF token.
    pub fn check_csrf(&self, form: &Form) -> Result<(), ConsoleError> {
        if csrf_matches(SESSION_PURPOSE, &self.id, form.get(CSRF_FIELD)) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "This form has expired or did not come from the console; reload the page and try again",
            ))
        }
    }

    /// Ends this session: its cookie stops working everywhere at once.
    pub async fn end(self, state: &AppState) -> Result<(), ConsoleError> {
        console_sessions::delete(&state.pool, &self.id).await?;
        Ok(())
    }
}

/// Where to come back to after signing in: this page, when it is a console page read with GET.
fn next_of(req: &HttpRequest) -> Option<String> {
    if req.method() != actix_web::http::Method::GET {
        return None;
    }
    let target = req.uri().path_and_query().map(|p| p.as_str())?;
    safe_next(target).map(str::to_owned)
}

/// `next` when it is a path of the console (never another site, never a scheme-relative URL).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with("/console")
        && !next.starts_with("/console/sign-in")
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 2048
        && next.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(next)
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ConsoleError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            ConsoleError::Internal(crate::http::error::ApiError::internal(anyhow::anyhow!(
                "application state is missing"
            )))
        })
}

async fn authenticate(req: HttpRequest) -> Result<Session, ConsoleError> {
    let Some(id) = cookie(&req, SESSION_COOKIE).filter(|id| is_cookie_safe(id)) else {
        return Err(ConsoleError::SignIn {
            next: next_of(&req),
            clear_cookie: false,
        });
    };
    let state = state(&req)?;
    if let Some(limiter) = &state.rate_limiter {
        if !limiter.allow(&id) {
            return Err(ConsoleError::RateLimited);
        }
    }
    match console_sessions::user(&state.pool, &id).await? {
        Some(user) => Ok(Session { user, id }),
        None => Err(ConsoleError::SignIn {
            next: next_of(&req),
            clear_cookie: true,
        }),
    }
}

impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_bind_to_their_value_and_purpose() {
        let token = csrf_token("session", "abc");
        assert!(csrf_matches("session", "abc", Some(&token)));
        assert!(!csrf_matches("session", "abd", Some(&token)));
        assert!(!csrf_matches("sign-in", "abc", Some(&token)));
        assert!(!csrf_matches("session", "abc", Some("00")));
        assert!(!csrf_matches("session", "abc", Some("not hex")));
        assert!(!csrf_matches("session", "abc", None));
    }

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(
            safe_next("/console/builds?page=2"),
            Some("/console/builds?page=2")
        );
        assert_eq!(safe_next("//evil.example/console"), None);
        assert_eq!(safe_next("https://evil.example/"), None);
        assert_eq!(safe_next("/console//evil.example"), None);
        assert_eq!(safe_next("/console/sign-in"), None);
        assert_eq!(safe_next("/v2/actors"), None);
    }
}
