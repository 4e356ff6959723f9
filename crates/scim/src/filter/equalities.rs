//! Index candidates: the `eq` comparisons every match must satisfy.

use serde_json::Value;

use super::{AttrPath, CompareOp, Filter};
use crate::schema::resolve::{Resolution, resolve};
use crate::schema::{ENTERPRISE_USER, ResourceKind};

pub(super) fn collect(f: &Filter) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(f, &mut out);
    out
}

fn walk(f: &Filter, out: &mut Vec<(String, String)>) {
    match f {
        Filter::And(a, b) => {
            walk(a, out);
            walk(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            if let (Some(key), Some(v)) = (canonical(path), text(value)) {
                out.push((key.to_string(), v));
            }
        }
        Filter::ValuePath { attr, filter } if is_emails(attr) => element_values(filter, out),
        _ => {}
    }
}

/// `emails[… and value eq "x" and …]` (also the parsed form of
/// `emails[type eq "work"].value eq "x"`).
fn element_values(f: &Filter, out: &mut Vec<(String, String)>) {
    match f {
        Filter::And(a, b) => {
            element_values(a, out);
            element_values(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            if let Some(v) = text(value) {
                out.push(("emails.value".into(), v));
            }
        }
        _ => {}
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_emails(p: &AttrPath) -> bool {
    p.sub.is_none() && matches!(canonical_attr(p), Some((None, "emails")))
}

fn canonical_attr(p: &AttrPath) -> Option<(Option<&'static str>, &'static str)> {
    [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find_map(|kind| match resolve(kind, p.urn.as_deref(), &p.attr) {
            Resolution::Found(t) => Some((t.ext, t.attr.name)),
            _ => None,
        })
}

fn canonical(p: &AttrPath) -> Option<&'static str> {
    let sub = p.sub.as_deref();
    let is_value = |s: Option<&str>| s.is_none_or(|s| s.eq_ignore_ascii_case("value"));
    match canonical_attr(p)? {
        (None, "userName") if sub.is_none() => Some("username"),
        (None, "externalId") if sub.is_none() => Some("externalid"),
        (None, "id") if sub.is_none() => Some("id"),
        (None, "displayName") if sub.is_none() => Some("displayname"),
        (None, "emails") if is_value(sub) => Some("emails.value"),
        (Some(ENTERPRISE_USER), "manager") if is_value(sub) => Some("manager"),
        _ => None,
    }
}
