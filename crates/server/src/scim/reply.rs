//! SCIM responses: `application/scim+json` bodies, and every failure as an RFC 7644 §3.12 error.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use skybridge_scim::ScimError;
use skybridge_store::StoreError;

use crate::app::MAX_BODY;

pub const CONTENT_TYPE: &str = "application/scim+json";

/// Why a SCIM request failed.
#[derive(Debug)]
pub enum Fail {
    Scim(ScimError),
    Unauthorized,
    TooMany(i64),
    MethodNotAllowed,
    TooLarge,
    Internal(anyhow::Error),
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Fail::Scim(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        match e {
            // A unique index caught what the checks before the write did not (two requests at once).
            StoreError::Conflict(what) => Fail::Scim(ScimError::uniqueness(format!(
                "One or more of the attribute values are already in use: {what}"
            ))),
            other => Fail::Internal(other.into()),
        }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let (err, extra): (ScimError, Option<(header::HeaderName, String)>) = match self {
            Fail::Scim(e) => (e, None),
            Fail::Unauthorized => (
                ScimError::new(
                    401,
                    None,
                    "a valid secret token for this account is required",
                ),
                Some((header::WWW_AUTHENTICATE, "Bearer realm=\"SCIM\"".into())),
            ),
            Fail::TooMany(secs) => (
                ScimError::new(429, None, format!("too many requests; retry in {secs} s")),
                Some((header::RETRY_AFTER, secs.max(1).to_string())),
            ),
            Fail::MethodNotAllowed => (
                ScimError::new(405, None, "this method is not allowed on this endpoint"),
                None,
            ),
            Fail::TooLarge => (
                ScimError::new(
                    413,
                    None,
                    format!("the request body is larger than {MAX_BODY} bytes"),
                ),
                None,
            ),
            Fail::Internal(e) if crate::error::is_outage(&e) => {
                tracing::warn!(error = %e, "SCIM request failed: database unavailable");
                (
                    ScimError::new(
                        503,
                        None,
                        "the service cannot reach its database; retry later",
                    ),
                    Some((
                        header::RETRY_AFTER,
                        crate::error::RETRY_AFTER_SECS.to_string(),
                    )),
                )
            }
            Fail::Internal(e) => {
                tracing::error!(error = ?e, "SCIM request failed");
                (ScimError::new(500, None, "internal error"), None)
            }
        };
        let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = json(status, &err.body());
        if let Some((name, value)) = extra
            && let Ok(v) = HeaderValue::from_str(&value)
        {
            resp.headers_mut().insert(name, v);
        }
        resp
    }
}

pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

pub fn created(body: &Value, location: &str) -> Response {
    let mut resp = json(StatusCode::CREATED, body);
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The request body as JSON: 413 beyond the limit, 400 invalidSyntax when it is not JSON.
pub async fn read_json(body: Body) -> Result<Value, Fail> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| Fail::TooLarge)?;
    if bytes.is_empty() {
        return Err(ScimError::invalid_syntax("the request body is empty").into());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")).into()
    })
}
