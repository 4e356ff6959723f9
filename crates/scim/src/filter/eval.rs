//! Filter evaluation against a rendered wire-form resource.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrPath, CompareOp, Filter};
use crate::json::{as_bool, get_ci};
use crate::schema::ResourceKind;
use crate::schema::attr::{Attr, Type};
use crate::schema::resolve::{Resolution, resolve};

static SCHEMAS: Attr = Attr::reference("schemas", &["uri"], "").multi();

/// What names in a filter are resolved against: the resource, or (inside
/// `attr[…]`) one element of a complex attribute.
#[derive(Clone, Copy)]
enum Scope {
    Resource(ResourceKind),
    Element(&'static Attr),
}

pub(super) fn matches(f: &Filter, kind: ResourceKind, resource: &Value) -> bool {
    eval(f, Scope::Resource(kind), resource)
}

/// Whether `element` (one value of the complex attribute `parent`) satisfies
/// a value filter. PATCH uses this to select elements.
pub(crate) fn element_matches(f: &Filter, parent: &'static Attr, element: &Value) -> bool {
    eval(f, Scope::Element(parent), element)
}

fn eval(f: &Filter, scope: Scope, obj: &Value) -> bool {
    match f {
        Filter::And(a, b) => eval(a, scope, obj) && eval(b, scope, obj),
        Filter::Or(a, b) => eval(a, scope, obj) || eval(b, scope, obj),
        Filter::Not(a) => !eval(a, scope, obj),
        Filter::Present { path } => {
            lookup(scope, path, obj, false).is_some_and(|(_, vs)| !vs.is_empty())
        }
        Filter::Compare { path, op, value } => match lookup(scope, path, obj, true) {
            None => false,
            Some((leaf, values)) => compare_any(leaf, &values, *op, value),
        },
        Filter::ValuePath { attr, filter } => {
            let Some((parent, elements)) = lookup(scope, attr, obj, false) else {
                return false;
            };
            parent.ty == Type::Complex
                && elements
                    .iter()
                    .any(|e| eval(filter, Scope::Element(parent), e))
        }
    }
}

/// The attribute a path names and its present (non-empty) values, arrays
/// flattened. `implicit_value` makes a complex attribute stand for its
/// `value` sub-attribute (`emails eq "x"`, Entra's `manager eq "id"`).
fn lookup<'v>(
    scope: Scope,
    path: &AttrPath,
    obj: &'v Value,
    implicit_value: bool,
) -> Option<(&'static Attr, Vec<&'v Value>)> {
    let (attr, mut values) = match scope {
        Scope::Resource(kind) => match resolve(kind, path.urn.as_deref(), &path.attr) {
            Resolution::Found(t) => {
                let container = match t.ext {
                    Some(ext) => obj.as_object().and_then(|o| get_ci(o, ext)),
                    None => Some(obj),
                };
                (t.attr, field(container, t.attr.name))
            }
            Resolution::Schemas => (&SCHEMAS, field(Some(obj), "schemas")),
            Resolution::Foreign | Resolution::Unknown => return None,
        },
        Scope::Element(parent) => {
            if path.urn.is_some() {
                return None;
            }
            let attr = parent.sub_attr(&path.attr)?;
            if path.sub.is_some() {
                return None;
            }
            (attr, field(Some(obj), attr.name))
        }
    };
    let sub = match (&path.sub, scope) {
        (Some(s), Scope::Resource(_)) => Some(attr.sub_attr(s)?),
        (None, _) if implicit_value && attr.ty == Type::Complex => Some(attr.sub_attr("value")?),
        _ => None,
    };
    match sub {
        None => Some((attr, values)),
        Some(sub) => {
            values = values
                .into_iter()
                .flat_map(|v| field(Some(v), sub.name))
                .collect();
            Some((sub, values))
        }
    }
}

/// The present values of `name` in `obj`, an array flattened into its items.
fn field<'v>(obj: Option<&'v Value>, name: &str) -> Vec<&'v Value> {
    let Some(v) = obj.and_then(Value::as_object).and_then(|o| get_ci(o, name)) else {
        return Vec::new();
    };
    match v {
        Value::Array(items) => items.iter().filter(|i| present(i)).collect(),
        v if present(v) => vec![v],
        _ => Vec::new(),
    }
}

/// RFC 7644 §3.4.2.2 `pr`: a non-empty value.
fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        _ => true,
    }
}

fn compare_any(leaf: &Attr, values: &[&Value], op: CompareOp, expected: &Value) -> bool {
    if expected.is_null() {
        return match op {
            CompareOp::Eq => values.is_empty(),
            CompareOp::Ne => !values.is_empty(),
            _ => false,
        };
    }
    if op == CompareOp::Ne {
        return !values
            .iter()
            .any(|v| compare(leaf, v, CompareOp::Eq, expected));
    }
    values.iter().any(|v| compare(leaf, v, op, expected))
}

fn compare(leaf: &Attr, actual: &Value, op: CompareOp, expected: &Value) -> bool {
    match leaf.ty {
        Type::Boolean => match (as_bool(actual), as_bool(expected)) {
            (Some(a), Some(e)) => match op {
                CompareOp::Eq => a == e,
                CompareOp::Ne => a != e,
                _ => false,
            },
            _ => false,
        },
        Type::Integer => match (actual.as_f64(), number(expected)) {
            (Some(a), Some(e)) => ordered(a.partial_cmp(&e), op),
            _ => false,
        },
        Type::DateTime => {
            let (Some(a), Some(e)) = (actual.as_str(), text(expected)) else {
                return false;
            };
            match (
                OffsetDateTime::parse(a, &Rfc3339),
                OffsetDateTime::parse(&e, &Rfc3339),
            ) {
                (Ok(a), Ok(e)) if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
                    ordered(Some(a.cmp(&e)), op)
                }
                _ => strings(a, &e, op, true),
            }
        }
        Type::String | Type::Reference => match (actual.as_str(), text(expected)) {
            (Some(a), Some(e)) => strings(a, &e, op, leaf.case_exact),
            _ => false,
        },
        Type::Complex => false,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The filter value as text: bare numbers and booleans compared with a
/// string attribute compare by their spelling.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn strings(actual: &str, expected: &str, op: CompareOp, case_exact: bool) -> bool {
    let (a, e) = if case_exact {
        (actual.to_string(), expected.to_string())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&e),
        CompareOp::Sw => a.starts_with(&e),
        CompareOp::Ew => a.ends_with(&e),
        _ => ordered(Some(a.cmp(&e)), op),
    }
}

fn ordered(ord: Option<Ordering>, op: CompareOp) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
