//! The one error type of the HTTP boundary, mapped once to status and `{"error":{"type","message"}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Authentication token was not provided")]
    TokenNotProvided,
    #[error("User was not found or authentication token is not valid")]
    InvalidToken,
    /// A record that is absent or belongs to another user; the text names what was looked for.
    #[error("{0} was not found")]
    NotFound(&'static str),
    #[error("We have bad news: there is no API endpoint at this URL")]
    PageNotFound,
    #[error("This HTTP method is not allowed on this API endpoint")]
    MethodNotAllowed,
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("Version {0} already exists")]
    VersionAlreadyExists(String),
    #[error("You already have an Actor named {0:?}")]
    ActorNameNotUnique(String),
    #[error("The build has not finished yet; abort it first")]
    DeletingUnfinishedBuild,
    #[error("The build is tagged {0:?}; move or remove the tag first")]
    DeletingDefaultBuild(String),
    #[error("The request body is larger than {0} bytes")]
    RequestTooLarge(usize),
    #[error("Content-Encoding {0:?} is not supported; use gzip, br or none")]
    UnsupportedContentEncoding(String),
    #[error("Too many requests; slow down")]
    RateLimitExceeded,
    #[error("The service is temporarily unavailable; try again")]
    ServiceUnavailable(#[source] sqlx::Error),
    #[error("Internal server error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::TokenNotProvided => "token-not-provided",
            ApiError::InvalidToken => "user-or-token-not-found",
            ApiError::NotFound(_) => "record-not-found",
            ApiError::PageNotFound => "page-not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::InvalidParameter(_) => "invalid-parameter",
            ApiError::InvalidInput(_) => "invalid-input",
            ApiError::VersionAlreadyExists(_) => "version-already-exists",
            ApiError::ActorNameNotUnique(_) => "actor-name-not-unique",
            ApiError::DeletingUnfinishedBuild => "deleting-unfinished-build",
            ApiError::DeletingDefaultBuild(_) => "deleting-default-build",
            ApiError::RequestTooLarge(_) => "request-too-large",
            ApiError::UnsupportedContentEncoding(_) => "unsupported-content-encoding",
            ApiError::RateLimitExceeded => "rate-limit-exceeded",
            ApiError::ServiceUnavailable(_) => "service-unavailable",
            ApiError::Internal(_) => "internal-server-error",
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                ApiError::ServiceUnavailable(e)
            }
            // A NUL character in a path or query value: Postgres cannot take it in text.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                ApiError::InvalidParameter("A parameter contains a NUL character".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Database(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::TokenNotProvided | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) | ApiError::PageNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidParameter(_)
            | ApiError::InvalidInput(_)
            | ApiError::VersionAlreadyExists(_)
            | ApiError::ActorNameNotUnique(_)
            | ApiError::DeletingUnfinishedBuild
            | ApiError::DeletingDefaultBuild(_) => StatusCode::BAD_REQUEST,
            ApiError::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::ServiceUnavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        let body = crate::http::envelope::ErrorBody {
            error: crate::http::envelope::ErrorDetail {
                kind: self.error_type().to_owned(),
                message: self.to_string(),
            },
        };
        crate::http::respond::json(self.status_code(), &body)
    }
}
