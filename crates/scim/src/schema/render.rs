//! RFC 7643 §7 JSON form of the attribute tables.

use serde_json::{Map, Value, json};

use super::attr::{Attr, Type};

pub(crate) fn attributes(attrs: &[Attr]) -> Value {
    Value::Array(attrs.iter().map(attribute).collect())
}

fn attribute(a: &Attr) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("type".into(), json!(a.ty.as_str()));
    m.insert("multiValued".into(), json!(a.multi));
    m.insert("description".into(), json!(a.description));
    m.insert("required".into(), json!(a.required));
    if matches!(a.ty, Type::String | Type::Reference) {
        m.insert("caseExact".into(), json!(a.case_exact));
    }
    if !a.canonical.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical));
    }
    if !a.ref_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.ref_types));
    }
    m.insert("mutability".into(), json!(a.mutability.as_str()));
    m.insert("returned".into(), json!(a.returned.as_str()));
    m.insert("uniqueness".into(), json!(a.uniqueness.as_str()));
    if a.ty == Type::Complex {
        m.insert("subAttributes".into(), attributes(a.sub));
    }
    Value::Object(m)
}
