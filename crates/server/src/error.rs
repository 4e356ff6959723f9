//! One error type for the API, rendered as RFC 9457 problem JSON with a stable `type`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use skybridge_domain::{Denied, ValidationError};
use skybridge_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed request: bad JSON, wrong types, bad query parameters, invalid field values.
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many failed attempts; retry in {0} s")]
    TooManyRequests(i64),
    /// Well-formed but against a rule (state machine, cross-row rule, escalation).
    #[error("{detail}")]
    Unprocessable {
        field: Option<String>,
        detail: String,
    },
    /// The database cannot be reached; the request may be retried (after [`RETRY_AFTER_SECS`]).
    #[error("the service is temporarily unavailable; retry in {RETRY_AFTER_SECS} s")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a 503 asks clients to wait before retrying: an outage of the database is seconds to minutes, and
/// clients retrying every few seconds find the service back soon after it is.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whether an internal error is the database being unreachable rather than a bug.
pub fn is_outage(e: &anyhow::Error) -> bool {
    e.chain().any(skybridge_store::is_unavailable)
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A stable identifier of the kind of problem, e.g. `urn:skybridge:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request field the problem is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn rule(field: Option<&str>, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            field: field.map(str::to_string),
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => {
                (StatusCode::BAD_REQUEST, "validation", "Invalid request")
            }
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "media-type",
                "Unsupported media type",
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            ApiError::Unprocessable { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "rule", "Rule violated")
            }
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let this = match self {
            ApiError::Internal(e) if is_outage(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            other => other,
        };
        let (status, slug, title) = this.parts();
        let (field, detail) = match &this {
            ApiError::BadRequest { field, detail } | ApiError::Unprocessable { field, detail } => {
                (field.clone(), detail.clone())
            }
            ApiError::Internal(e) => {
                // Internal causes are for the log, not for the client.
                tracing::error!(error = ?e, "internal error");
                (
                    None,
                    "an internal error occurred; it has been logged".to_string(),
                )
            }
            other => (None, other.to_string()),
        };
        let body = Problem {
            kind: format!("urn:skybridge:problem:{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            field,
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests(secs) = &this
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let ApiError::Unavailable = &this {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::BadRequest {
            detail: format!("{}: {}", e.field, e.message),
            field: Some(e.field),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::NotFound => ApiError::NotFound("account"),
            Denied::Forbidden(why) => ApiError::Forbidden(why),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            e if e.is_unavailable() => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}
