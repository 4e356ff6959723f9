//! Client resource (POST/PUT body, or a patched document) → document.

use serde_json::{Map, Value};

use super::{coerce, validate};
use crate::error::ScimError;
use crate::schema::ResourceKind;
use crate::schema::attr::Mutability;
use crate::schema::resolve::{
    Resolution, Target, is_foreign_extension, resolve, schema_urn, split_urn,
};

type Result<T> = std::result::Result<T, ScimError>;

pub(crate) fn normalize(kind: ResourceKind, input: &Value) -> Result<Value> {
    let Value::Object(obj) = input else {
        return Err(ScimError::invalid_syntax(format!(
            "a {} must be a JSON object",
            kind.name()
        )));
    };
    let mut doc = Map::new();
    for (key, v) in obj {
        put_key(kind, &mut doc, key, v)?;
    }
    validate::document(kind, &doc)?;
    Ok(Value::Object(doc))
}

fn put_key(kind: ResourceKind, doc: &mut Map<String, Value>, key: &str, v: &Value) -> Result<()> {
    if v.is_null()
        || ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
    {
        return Ok(());
    }
    if let Some(ext) = schema_urn(kind, key) {
        let Value::Object(inner) = v else {
            return Err(ScimError::invalid_value(format!(
                "\"{key}\" must be an object of attributes"
            )));
        };
        let urn = ext.unwrap_or(kind.core_schema());
        for (k, v) in inner {
            if !v.is_null() && !k.eq_ignore_ascii_case("schemas") {
                put_attr(kind, doc, Some(urn), k, v)?;
            }
        }
        return Ok(());
    }
    match split_urn(key) {
        (Some(urn), rest) if schema_urn(kind, urn).is_some() => {
            put_attr(kind, doc, Some(urn), rest, v)
        }
        // Entra's custom attributes (and their URN-keyed objects) are not ours.
        (Some(urn), _) if is_foreign_extension(urn) || is_foreign_extension(key) => Ok(()),
        (Some(_), _) => Err(unknown(key)),
        (None, name) => put_attr(kind, doc, None, name, v),
    }
}

fn unknown(name: &str) -> ScimError {
    ScimError::invalid_value(format!("unknown attribute \"{name}\""))
}

/// Stores `name` (`attr` or `attr.sub`) under the optional schema `urn`.
fn put_attr(
    kind: ResourceKind,
    doc: &mut Map<String, Value>,
    urn: Option<&str>,
    name: &str,
    v: &Value,
) -> Result<()> {
    let (attr_name, sub) = match name.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (name, None),
    };
    let target = match resolve(kind, urn, attr_name) {
        Resolution::Found(t) => t,
        Resolution::Schemas | Resolution::Foreign => return Ok(()),
        Resolution::Unknown => return Err(unknown(name)),
    };
    // Client-sent read-only values (id, meta, …) are ignored (RFC 7643 §7).
    if target.attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let value = match sub {
        None => coerce::attribute(target.attr, v, target.attr.name)?,
        Some(sub) => {
            let sub_attr = match target.attr.sub_attr(sub) {
                Some(s) if !target.attr.multi => s,
                _ => return Err(unknown(name)),
            };
            if sub_attr.is_computed() {
                return Ok(());
            }
            let label = format!("{}.{}", target.attr.name, sub_attr.name);
            coerce::attribute(sub_attr, v, &label)?.map(|sv| {
                let mut m = Map::new();
                m.insert(sub_attr.name.to_string(), sv);
                Value::Object(m)
            })
        }
    };
    if let Some(value) = value {
        set(doc, target, value);
    }
    Ok(())
}

/// Sets an attribute, merging into an existing complex value so that
/// `name` and `name.givenName` given together both count.
pub(crate) fn set(doc: &mut Map<String, Value>, target: Target, value: Value) {
    let Some(container) = container_mut(doc, target.ext) else {
        return;
    };
    match (container.get_mut(target.attr.name), value) {
        (Some(Value::Object(old)), Value::Object(new)) if !target.attr.multi => old.extend(new),
        (_, value) => {
            container.insert(target.attr.name.to_string(), value);
        }
    }
}

/// The object an attribute lives in, creating the extension object if needed
/// (always `Some`).
pub(crate) fn container_mut<'a>(
    doc: &'a mut Map<String, Value>,
    ext: Option<&'static str>,
) -> Option<&'a mut Map<String, Value>> {
    let Some(ext) = ext else { return Some(doc) };
    let slot = doc
        .entry(ext.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}
