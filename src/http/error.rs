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

/// A kind of error as the API answers it: the status, the `type` of the body, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub description: &'static str,
}

impl ApiError {
    /// Every kind of error the API answers with. An error's status and `type` are read from
    /// here (see [`ApiError::kind`]), and the OpenAPI document lists this table, so a new
    /// variant cannot answer with a kind that the document does not describe.
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind {
            status: StatusCode::UNAUTHORIZED,
            error_type: "token-not-provided",
            description: "no token was given",
        },
        ErrorKind {
            status: StatusCode::UNAUTHORIZED,
            error_type: "user-or-token-not-found",
            description: "the token is not valid",
        },
        ErrorKind {
            status: StatusCode::NOT_FOUND,
            error_type: "record-not-found",
            description: "the record is absent or another user's",
        },
        ErrorKind {
            status: StatusCode::NOT_FOUND,
            error_type: "page-not-found",
            description: "there is no API endpoint at this URL",
        },
        ErrorKind {
            status: StatusCode::METHOD_NOT_ALLOWED,
            error_type: "method-not-allowed",
            description: "the endpoint does not take this HTTP method",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "invalid-parameter",
            description: "a path or query parameter is malformed",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "invalid-input",
            description: "the request body is malformed",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "version-already-exists",
            description: "the Actor already has a version of that number",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "actor-name-not-unique",
            description: "the caller already has an Actor of that name",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "deleting-unfinished-build",
            description: "the build has not finished",
        },
        ErrorKind {
            status: StatusCode::BAD_REQUEST,
            error_type: "deleting-default-build",
            description: "a tag points at the build",
        },
        ErrorKind {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error_type: "request-too-large",
            description: "the body is too large, before or after decompression",
        },
        ErrorKind {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            error_type: "unsupported-content-encoding",
            description: "the Content-Encoding is not gzip, br or none",
        },
        ErrorKind {
            status: StatusCode::TOO_MANY_REQUESTS,
            error_type: "rate-limit-exceeded",
            description: "too many requests with this token",
        },
        ErrorKind {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error_type: "service-unavailable",
            description: "the database cannot be reached",
        },
        ErrorKind {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "internal-server-error",
            description: "an unexpected failure",
        },
    ];

    /// The entry of [`ApiError::ALL`] this error answers with.
    pub fn kind(&self) -> ErrorKind {
        let index = match self {
            ApiError::TokenNotProvided => 0,
            ApiError::InvalidToken => 1,
            ApiError::NotFound(_) => 2,
            ApiError::PageNotFound => 3,
            ApiError::MethodNotAllowed => 4,
            ApiError::InvalidParameter(_) => 5,
            ApiError::InvalidInput(_) => 6,
            ApiError::VersionAlreadyExists(_) => 7,
            ApiError::ActorNameNotUnique(_) => 8,
            ApiError::DeletingUnfinishedBuild => 9,
            ApiError::DeletingDefaultBuild(_) => 10,
            ApiError::RequestTooLarge(_) => 11,
            ApiError::UnsupportedContentEncoding(_) => 12,
            ApiError::RateLimitExceeded => 13,
            ApiError::ServiceUnavailable(_) => 14,
            ApiError::Internal(_) => 15,
        };
        Self::ALL[index]
    }

    pub fn error_type(&self) -> &'static str {
        self.kind().error_type
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
        self.kind().status
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// One error of every variant.
    fn one_of_each() -> Vec<ApiError> {
        vec![
            ApiError::TokenNotProvided,
            ApiError::InvalidToken,
            ApiError::NotFound("Build"),
            ApiError::PageNotFound,
            ApiError::MethodNotAllowed,
            ApiError::InvalidParameter("x".into()),
            ApiError::InvalidInput("x".into()),
            ApiError::VersionAlreadyExists("0.1".into()),
            ApiError::ActorNameNotUnique("a".into()),
            ApiError::DeletingUnfinishedBuild,
            ApiError::DeletingDefaultBuild("latest".into()),
            ApiError::RequestTooLarge(1),
            ApiError::UnsupportedContentEncoding("zstd".into()),
            ApiError::RateLimitExceeded,
            ApiError::ServiceUnavailable(sqlx::Error::PoolTimedOut),
            ApiError::internal(anyhow::anyhow!("x")),
        ]
    }

    /// The variants as declared in this file.
    fn declared_variants() -> BTreeSet<String> {
        let source = include_str!("error.rs");
        let body = source
            .split_once("pub enum ApiError {")
            .and_then(|(_, rest)| rest.split_once("\n}"))
            .expect("the declaration of ApiError")
            .0;
        body.lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
            .map(|line| {
                line.split(['(', ',', ' '])
                    .next()
                    .unwrap_or(line)
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_declared_variant_has_a_sample() {
        let sampled: BTreeSet<String> = one_of_each()
            .iter()
            .map(|e| {
                let debug = format!("{e:?}");
                debug
                    .split(['(', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            sampled.len(),
            one_of_each().len(),
            "a variant has two samples"
        );
        assert_eq!(sampled, declared_variants());
    }

    #[test]
    fn every_kind_is_answered_and_distinct() {
        let answered: BTreeSet<&str> = one_of_each().iter().map(|e| e.error_type()).collect();
        let listed: BTreeSet<&str> = ApiError::ALL.iter().map(|k| k.error_type).collect();
        assert_eq!(listed.len(), ApiError::ALL.len(), "two kinds share a type");
        assert_eq!(answered, listed, "a kind of ALL is never answered");
        for e in one_of_each() {
            assert!(e.status_code().is_client_error() || e.status_code().is_server_error());
            assert_eq!(e.error_response().status(), e.kind().status);
        }
    }
}
