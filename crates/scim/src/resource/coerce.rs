//! Coercion of client values to the schema's types: Entra sends booleans as
//! `"True"`, single objects where arrays belong, the manager as a bare id,
//! and roles as JSON-encoded strings. Everything else is kept as sent.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::json::as_bool;
use crate::schema::attr::{Attr, Type};

type Result<T> = std::result::Result<T, ScimError>;

/// A whole attribute value: `None` means absent (null, `[]`, `{}`).
pub(crate) fn attribute(attr: &'static Attr, v: &Value, label: &str) -> Result<Option<Value>> {
    if attr.multi {
        let items = match v {
            Value::Null => return Ok(None),
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        // Duplicates dropped in linear time: a group may list tens of thousands of members.
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for item in items {
            if let Some(item) = element(attr, item, label)?
                && seen.insert(item.to_string())
            {
                out.push(item);
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    let v = match v {
        // An old Microsoft library wraps simple values: [{"$ref":null,"value":"x"}].
        Value::Array(items) if items.is_empty() => return Ok(None),
        Value::Array(items) if items.len() == 1 => &items[0],
        Value::Array(_) => {
            return Err(ScimError::invalid_value(format!(
                "{label} is single-valued, but an array was sent"
            )));
        }
        v => v,
    };
    element(attr, v, label)
}

/// One value of `attr` (one element if it is multi-valued).
pub(crate) fn element(attr: &'static Attr, v: &Value, label: &str) -> Result<Option<Value>> {
    if v.is_null() {
        return Ok(None);
    }
    if attr.ty == Type::Complex {
        return complex(attr, v, label);
    }
    let v = unwrap_value_object(v);
    let bad = |what: &str| {
        ScimError::invalid_value(format!("{label} must be {what}, not {}", kind_of(v)))
    };
    match attr.ty {
        Type::String | Type::Reference | Type::DateTime => match v {
            Value::String(_) => Ok(Some(v.clone())),
            _ => Err(bad("a string")),
        },
        Type::Boolean => match as_bool(v) {
            Some(b) => Ok(Some(Value::Bool(b))),
            None => Err(bad("a boolean (true or false)")),
        },
        Type::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(v.clone())),
            _ => Err(bad("an integer")),
        },
        Type::Complex => Ok(None),
    }
}

/// `{"value": x}` (with an optional null `$ref`) where a simple value belongs.
fn unwrap_value_object(v: &Value) -> &Value {
    match v {
        Value::Object(o)
            if o.contains_key("value")
                && o.iter()
                    .all(|(k, v)| k == "value" || (k == "$ref" && v.is_null())) =>
        {
            &o["value"]
        }
        v => v,
    }
}

fn complex(attr: &'static Attr, v: &Value, label: &str) -> Result<Option<Value>> {
    let obj = match v {
        Value::Object(o) => o,
        // Entra sends the manager as a bare id (Q9), and some clients members as bare ids; an e-mail or a
        // phone number as a bare string is a type error.
        Value::String(s) if matches!(attr.name, "manager" | "members") => {
            return Ok((!s.is_empty()).then(|| single("value", v.clone())));
        }
        _ => {
            return Err(ScimError::invalid_value(format!(
                "{label} must be an object, not {}",
                kind_of(v)
            )));
        }
    };
    let mut out = Map::new();
    for (k, sv) in obj {
        let Some(sub) = attr.sub_attr(k) else {
            if sv.is_null() {
                continue;
            }
            return Err(ScimError::invalid_value(format!(
                "unknown attribute \"{label}.{k}\""
            )));
        };
        if sub.is_computed() {
            continue;
        }
        if let Some(value) = element(sub, sv, &format!("{label}.{}", sub.name))? {
            out.insert(sub.name.to_string(), value);
        }
    }
    // A manager given only as a `$ref` URL still names its id.
    if attr.name == "manager"
        && !out.contains_key("value")
        && let Some(id) = obj
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(last_segment)
    {
        out.insert("value".into(), Value::String(id.to_string()));
    }
    if attr.name == "manager" && out.get("value").and_then(Value::as_str) == Some("") {
        out.remove("value");
    }
    if attr.name == "members" && !out.contains_key("value") {
        return Err(ScimError::invalid_value(
            "each members entry needs a value: the id of a User",
        ));
    }
    if attr.name == "roles" {
        decode_role(&mut out);
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn single(k: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(k.into(), v);
    Value::Object(m)
}

fn last_segment(uri: &str) -> Option<&str> {
    uri.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// Entra's default PATCH dialect sends an app role as a JSON-encoded string:
/// `{"value":"{\"id\":\"…\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}`.
fn decode_role(role: &mut Map<String, Value>) {
    let Some(raw) = role.get("value").and_then(Value::as_str) else {
        return;
    };
    if !raw.trim_start().starts_with('{') {
        return;
    }
    let Ok(Value::Object(decoded)) = serde_json::from_str::<Value>(raw) else {
        return;
    };
    if let Some(v) = decoded.get("value").and_then(Value::as_str) {
        role.insert("value".into(), Value::String(v.to_string()));
    }
    if !role.contains_key("display")
        && let Some(d) = decoded.get("displayName").and_then(Value::as_str)
    {
        role.insert("display".into(), Value::String(d.to_string()));
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
