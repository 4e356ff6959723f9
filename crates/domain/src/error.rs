use std::fmt;

/// Bad input, naming the field it concerns. The server turns this into a 400 (or 422 for rule violations).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why the policy refused. `NotFound` is used when the principal must not even learn that the target exists
/// (another tenant, an account a manager was not assigned); `Forbidden` when it may see it but not do this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
}

impl Denied {
    pub fn forbidden(what: impl fmt::Display) -> Self {
        Denied::Forbidden(what.to_string())
    }
}
