//! Attribute-level diff for the audit trail.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::schema::ResourceKind;

pub(crate) fn changed(kind: ResourceKind, before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let ext = kind.extension().map(|(urn, _)| urn);
    let mut out = BTreeSet::new();
    for key in b.keys().chain(a.keys()) {
        let (old, new) = (b.get(key), a.get(key));
        if old == new {
            continue;
        }
        if Some(key.as_str()) == ext {
            diff_members(old, new, None, &mut out);
        } else if key == "name" {
            diff_members(old, new, Some("name"), &mut out);
        } else {
            out.insert(key.clone());
        }
    }
    out.into_iter().collect()
}

/// Differences between the members of two objects, named `prefix.member`
/// (or bare without a prefix).
fn diff_members(
    old: Option<&Value>,
    new: Option<&Value>,
    prefix: Option<&str>,
    out: &mut BTreeSet<String>,
) {
    let empty = Map::new();
    let o = old.and_then(Value::as_object).unwrap_or(&empty);
    let n = new.and_then(Value::as_object).unwrap_or(&empty);
    for key in o.keys().chain(n.keys()) {
        if o.get(key) != n.get(key) {
            out.insert(match prefix {
                Some(p) => format!("{p}.{key}"),
                None => key.clone(),
            });
        }
    }
}
