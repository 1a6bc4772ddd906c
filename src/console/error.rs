//! Errors of the console: every one renders as a readable HTML page (or, for a missing or stale
//! session, as a redirect to the sign-in page), never as the API's JSON.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::{session, views};
use crate::http::error::ApiError;
use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or its token is no longer valid: go to the sign-in page, then back to `next`.
    #[error("Sign in to continue")]
    SignIn {
        next: Option<String>,
        clear_cookie: bool,
    },
    /// A record that is absent or another user's; the text names what was looked for.
    #[error("{0} was not found")]
    NotFound(&'static str),
    #[error("There is no page at this address")]
    PageNotFound,
    #[error("This page does not accept that method")]
    MethodNotAllowed,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("Too many requests; slow down and try again")]
    RateLimited,
    #[error("The service is temporarily unavailable; try again in a moment")]
    Unavailable(#[source] ApiError),
    #[error("Something went wrong on our side; try again")]
    Internal(#[source] ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(what) => ConsoleError::NotFound(what),
            ApiError::InvalidParameter(m) | ApiError::InvalidInput(m) => {
                ConsoleError::BadRequest(m)
            }
            ApiError::RateLimitExceeded => ConsoleError::RateLimited,
            ApiError::ServiceUnavailable(_) => ConsoleError::Unavailable(e),
            other => ConsoleError::Internal(other),
        }
    }
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<sqlx::Error> for ConsoleError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl ConsoleError {
    fn title(&self) -> &'static str {
        match self {
            ConsoleError::SignIn { .. } => "Sign in",
            ConsoleError::NotFound(_) | ConsoleError::PageNotFound => "Not found",
            ConsoleError::MethodNotAllowed => "Method not allowed",
            ConsoleError::Forbidden(_) => "Forbidden",
            ConsoleError::BadRequest(_) => "Bad request",
            ConsoleError::RateLimited => "Too many requests",
            ConsoleError::Unavailable(_) => "Service unavailable",
            ConsoleError::Internal(_) => "Internal error",
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::NotFound(_) | ConsoleError::PageNotFound => StatusCode::NOT_FOUND,
            ConsoleError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::SignIn { next, clear_cookie } => {
                let location = match next {
                    Some(next) => {
                        let query: String = form_urlencoded::Serializer::new(String::new())
                            .append_pair("next", next)
                            .finish();
                        format!("{}?{query}", super::paths::SIGN_IN)
                    }
                    None => super::paths::SIGN_IN.to_owned(),
                };
                let mut response = HttpResponse::SeeOther();
                response
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"));
                if *clear_cookie {
                    response.append_header((
                        header::SET_COOKIE,
                        session::clear_cookie(session::SESSION_COOKIE),
                    ));
                }
                return response.finish();
            }
            ConsoleError::Internal(cause) => {
                tracing::error!(error = ?cause, "console: internal error")
            }
            ConsoleError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "console: database unavailable")
            }
            _ => {}
        }
        let status = self.status_code();
        super::html(
            status,
            views::error_page(status.as_u16(), self.title(), &self.to_string()),
        )
    }
}
