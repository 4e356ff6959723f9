//! Form errors shown next to their fields: the API's validation errors name the field they are about.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// The typed word of a confirmation dialog (`delete`, `deactivate`, …).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Confirm {
    #[serde(default)]
    pub confirm: String,
}

#[derive(Debug, Default)]
pub struct Errors {
    fields: BTreeMap<String, String>,
    /// An error no single field owns, shown above the form.
    pub general: Option<String>,
}

impl Errors {
    /// Sorts a failed action's error into the form: a validation error about one of `fields` sits at that
    /// field (a conflict at `conflict_field`, e.g. an e-mail already in use), anything else the form can show
    /// goes above it. Errors a form cannot help with (not found, not allowed, failures) are returned.
    pub fn from_api(
        err: ApiError,
        fields: &[&str],
        conflict_field: Option<&str>,
    ) -> Result<Errors, ApiError> {
        let mut out = Errors::default();
        match err {
            ApiError::BadRequest { field, detail } | ApiError::Unprocessable { field, detail } => {
                match field.filter(|f| fields.contains(&f.as_str())) {
                    Some(f) => {
                        // Next to the field its name is redundant: "email: is required" reads "Is required".
                        let text = detail
                            .strip_prefix(&format!("{f}: "))
                            .map(capitalised)
                            .unwrap_or(detail);
                        out.fields.insert(f, text);
                    }
                    None => out.general = Some(detail),
                }
            }
            ApiError::Conflict(detail) => match conflict_field {
                Some(f) => {
                    out.fields.insert(f.to_string(), detail);
                }
                None => out.general = Some(detail),
            },
            other => return Err(other),
        }
        Ok(out)
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// `aria-invalid` of a field.
    pub fn invalid(&self, field: &str) -> &'static str {
        if self.fields.contains_key(field) {
            "true"
        } else {
            "false"
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_land_at_their_field() {
        let e =
            Errors::from_api(ApiError::bad("email", "not an e-mail"), &["email"], None).unwrap();
        assert_eq!(e.get("email"), Some("not an e-mail"));
        let e = Errors::from_api(
            ApiError::bad("email", "email: is required"),
            &["email"],
            None,
        )
        .unwrap();
        assert_eq!(e.get("email"), Some("Is required"));
        assert_eq!(e.invalid("email"), "true");
        assert!(e.general.is_none());
    }

    #[test]
    fn unknown_fields_and_conflicts_without_a_field_go_above_the_form() {
        let e = Errors::from_api(ApiError::bad("zzz", "odd"), &["email"], None).unwrap();
        assert_eq!(e.general.as_deref(), Some("odd"));
        let e = Errors::from_api(ApiError::Conflict("in use".into()), &[], Some("email")).unwrap();
        assert_eq!(e.get("email"), Some("in use"));
    }

    #[test]
    fn other_errors_are_not_form_errors() {
        assert!(Errors::from_api(ApiError::NotFound("user"), &[], None).is_err());
        assert!(Errors::from_api(ApiError::Forbidden("no".into()), &[], None).is_err());
    }
}
