//! RFC 7644 §3.12 errors.

use serde_json::{Value, json};

use crate::schema::ERROR;

/// A SCIM error: the HTTP status, the RFC 7644 §3.12 `scimType` and an
/// actionable `detail` (Entra shows it verbatim in the provisioning log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidPath"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(400, Some("noTarget"), detail)
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some("mutability"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(400, Some("tooMany"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// The RFC 7644 §3.12 error body. `status` is a string there (and in
    /// Microsoft's examples), not a number.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(scim_type), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), Value::String(scim_type.into()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let e = ScimError::uniqueness("userName \"a\" is already taken");
        assert_eq!(
            e.body(),
            json!({"schemas":[ERROR],"status":"409","scimType":"uniqueness","detail":"userName \"a\" is already taken"})
        );
        assert_eq!(e.to_string(), "userName \"a\" is already taken");
    }

    #[test]
    fn not_found_has_no_scim_type() {
        let body = ScimError::not_found("Resource x not found").body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn constructors_map_to_rfc_types() {
        let cases = [
            (ScimError::invalid_filter("x"), 400, "invalidFilter"),
            (ScimError::invalid_path("x"), 400, "invalidPath"),
            (ScimError::invalid_value("x"), 400, "invalidValue"),
            (ScimError::invalid_syntax("x"), 400, "invalidSyntax"),
            (ScimError::no_target("x"), 400, "noTarget"),
            (ScimError::mutability("x"), 400, "mutability"),
            (ScimError::uniqueness("x"), 409, "uniqueness"),
            (ScimError::too_many("x"), 400, "tooMany"),
        ];
        for (e, status, t) in cases {
            assert_eq!((e.status, e.scim_type), (status, Some(t)));
        }
    }
}
