//! OAuth 2.0 errors (RFC 6749 §5.2) as the token, introspection and revocation endpoints return them.

use axum::Json;
use axum::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// The client tried HTTP Basic authentication, so a 401 names that scheme.
    pub basic_challenge: bool,
    /// Seconds until a rate-limited client may try again.
    pub retry_after: Option<i64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// 400: the client sent its credentials in the body (RFC 6749 §5.2); [`Self::basic`] makes it the 401
    /// with a Basic challenge that a client using HTTP authentication gets.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client", d)
    }
    /// The same error answered to a client that authenticated with HTTP Basic.
    pub fn basic(mut self) -> Self {
        self.status = StatusCode::UNAUTHORIZED;
        self.basic_challenge = true;
        self
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d)
    }
    /// 429 after too many failed client authentications from one address.
    pub fn slow_down(retry_after: i64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "slow_down",
            format!("too many failed attempts; retry in {retry_after} seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    pub fn server_error(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "OAuth endpoint failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }
}

impl<E: Into<anyhow::Error>> From<E> for OAuthError {
    fn from(e: E) -> Self {
        let e = e.into();
        if crate::error::is_outage(&e) {
            tracing::warn!(error = %e, "OAuth endpoint failed: database unavailable");
            let mut out = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server cannot reach its database; retry later",
            );
            out.retry_after = i64::try_from(crate::error::RETRY_AFTER_SECS).ok();
            return out;
        }
        OAuthError::server_error(e)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(Body {
                error: self.code,
                error_description: &self.description,
            }),
        )
            .into_response();
        let h = resp.headers_mut();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // RFC 6749 §5.2: a 401 challenges with the scheme the client tried (Basic); a client that sent its
        // credentials in the body gets a 400 without one. A resource endpoint (userinfo) challenges for a
        // Bearer token (RFC 6750 §3).
        let challenge = if self.basic_challenge {
            Some("Basic realm=\"skybridge\"")
        } else if self.code == "invalid_token" {
            Some("Bearer error=\"invalid_token\"")
        } else if self.code == "insufficient_scope" {
            Some("Bearer error=\"insufficient_scope\"")
        } else {
            None
        };
        if let Some(c) = challenge {
            h.insert(WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            h.insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
