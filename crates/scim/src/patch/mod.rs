//! RFC 7644 §3.5.2 PATCH, in both of Entra's dialects (capitalised ops,
//! string booleans, path-less dotted keys, value-array member removal) and
//! the strict RFC form.

mod multi;
mod request;
mod single;
mod target;

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::resource::normalize::normalize;
use crate::schema::ResourceKind;

/// Applies a PatchOp request body to a document. On success the document is
/// in normalised form and has passed the same validation as
/// [`crate::resource::normalize`]. On error it may be partially modified:
/// apply to a clone.
pub fn apply(kind: ResourceKind, doc: &mut Value, body: &Value) -> Result<(), ScimError> {
    let ops = request::operations(body)?;
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    if let Value::Object(map) = doc {
        for op in &ops {
            target::apply(kind, map, op)?;
        }
    }
    *doc = normalize(kind, doc)?;
    Ok(())
}

#[cfg(test)]
mod tests;
