//! Signing in and out.

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::console::error::ConsoleError;
use crate::console::paths;
use crate::console::session::{
    self, cookie, csrf_matches, csrf_token, Form, Session, CSRF_FIELD, SESSION_COOKIE,
    SIGN_IN_COOKIE, SIGN_IN_PURPOSE,
};
use crate::console::views;
use crate::console::{html, redirect};
use crate::domain::new_id;
use crate::http::extract::Query;
use crate::state::AppState;
use crate::storage::console_sessions;

fn sign_in_response(
    req: &HttpRequest,
    status: StatusCode,
    next: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    // A fresh random value in a cookie of its own binds the form to this browser.
    let nonce = format!("{}{}", new_id(), new_id());
    let csrf = csrf_token(SIGN_IN_PURPOSE, &nonce);
    let mut response = html(status, views::sign_in_page(&csrf, next, error));
    if let Ok(value) = session::set_cookie(req, SIGN_IN_COOKIE, &nonce).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /console/sign-in`
pub async fn sign_in_form(req: HttpRequest) -> HttpResponse {
    let query = Query::parse(&req).ok();
    let next = query
        .as_ref()
        .and_then(|q| q.get("next"))
        .and_then(session::safe_next);
    sign_in_response(&req, StatusCode::OK, next, None)
}

/// `POST /console/sign-in`: checks the token and opens a session; the cookie holds its id only.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    let form = Form::parse(&body);
    let nonce = cookie(&req, SIGN_IN_COOKIE);
    let bound = nonce
        .as_deref()
        .is_some_and(|n| csrf_matches(SIGN_IN_PURPOSE, n, form.get(CSRF_FIELD)));
    if !bound {
        return Err(ConsoleError::Forbidden(
            "This sign-in form has expired or did not come from the console; reload it and try again",
        ));
    }
    let next = form.get("next").and_then(session::safe_next);
    let token = form.get("token").map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Ok(sign_in_response(
            &req,
            StatusCode::BAD_REQUEST,
            next,
            Some("Enter an API token."),
        ));
    }
    if let Some(limiter) = &state.rate_limiter {
        if !limiter.allow(token) {
            return Err(ConsoleError::RateLimited);
        }
    }
    let opened = if session::is_cookie_safe(token) {
        console_sessions::create(&state.pool, token).await?
    } else {
        None
    };
    let Some((session_id, _user)) = opened else {
        return Ok(sign_in_response(
            &req,
            StatusCode::UNAUTHORIZED,
            next,
            Some("That token is unknown or was revoked."),
        ));
    };
    let mut response = redirect(next.unwrap_or(paths::BUILDS));
    let cookies = [
        session::set_cookie(&req, SESSION_COOKIE, &session_id),
        session::clear_cookie(SIGN_IN_COOKIE),
    ];
    for value in cookies {
        if let Ok(value) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// `POST /console/sign-out`
pub async fn sign_out(
    state: web::Data<AppState>,
    session: Session,
    body: Bytes,
) -> Result<HttpResponse, ConsoleError> {
    session.check_csrf(&Form::parse(&body))?;
    session.end(&state).await?;
    let mut response = redirect(paths::SIGN_IN);
    if let Ok(value) = session::clear_cookie(SESSION_COOKIE).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}
