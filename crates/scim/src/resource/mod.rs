//! Resource documents: validation and canonicalisation of client bodies,
//! audit diffs and response projection.

mod changed;
pub(crate) mod coerce;
pub(crate) mod normalize;
mod project;
mod validate;

use serde_json::Value;

use crate::error::ScimError;
use crate::schema::ResourceKind;

/// Validates and canonicalises a client-sent User or Group (POST/PUT body)
/// into a document: canonical attribute names, Entra's string booleans and
/// manager/role shapes coerced, nulls, `schemas`, `id`, `meta`, read-only and
/// server-computed values dropped, values otherwise kept exactly as sent.
pub fn normalize(kind: ResourceKind, input: &Value) -> Result<Value, ScimError> {
    normalize::normalize(kind, input)
}

/// Names of the attributes whose values differ between two documents, for
/// the audit trail: top-level names, `name.givenName` for sub-attributes of
/// `name`, bare names for Enterprise User attributes. Sorted, deduplicated.
pub fn changed(kind: ResourceKind, before: &Value, after: &Value) -> Vec<String> {
    changed::changed(kind, before, after)
}

/// RFC 7644 §3.4.2.5 / §3.9 attribute projection of a rendered wire-form
/// resource. `attributes` and `excluded` are the raw comma-separated query
/// values; given both, `attributes` wins. `id` and `schemas` are always
/// kept; names may be URN-qualified or `attr.sub`, any case; unknown names
/// are ignored.
pub fn project(
    kind: ResourceKind,
    resource: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Value {
    project::project(kind, resource, attributes, excluded)
}

/// E.164: a `+`, then 7 to 15 digits, the first one not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests;
