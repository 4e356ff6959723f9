//! RFC 7644 §3.4.2.5 `attributes` / `excludedAttributes`.

use serde_json::{Map, Value};

use crate::json::{is_empty, key_ci};
use crate::schema::ResourceKind;
use crate::schema::attr::Returned;
use crate::schema::resolve::{Resolution, resolve, schema_urn, split_urn};

/// One name from the query: an attribute (maybe inside the extension), one
/// of its sub-attributes, or a whole extension.
#[derive(Debug)]
struct Selector {
    ext: Option<&'static str>,
    /// `None` selects the whole extension `ext`.
    attr: Option<&'static str>,
    sub: Option<&'static str>,
    always: bool,
}

fn selectors(kind: ResourceKind, list: &str) -> Vec<Selector> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|name| selector(kind, name))
        .collect()
}

fn selector(kind: ResourceKind, name: &str) -> Option<Selector> {
    if let Some(ext) = schema_urn(kind, name) {
        return ext.map(|ext| Selector {
            ext: Some(ext),
            attr: None,
            sub: None,
            always: false,
        });
    }
    let (urn, rest) = split_urn(name);
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let Resolution::Found(t) = resolve(kind, urn, attr) else {
        return None;
    };
    let sub = match sub {
        Some(s) => Some(t.attr.sub_attr(s)?.name),
        None => None,
    };
    Some(Selector {
        ext: t.ext,
        attr: Some(t.attr.name),
        sub,
        always: t.attr.returned == Returned::Always,
    })
}

pub(crate) fn project(
    kind: ResourceKind,
    resource: &Value,
    attributes: Option<&str>,
    excluded: Option<&str>,
) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let included = attributes.filter(|a| !a.trim().is_empty());
    if let Some(list) = included {
        return Value::Object(include(obj, &selectors(kind, list)));
    }
    match excluded.filter(|e| !e.trim().is_empty()) {
        Some(list) => Value::Object(exclude(obj.clone(), &selectors(kind, list))),
        None => resource.clone(),
    }
}

fn include(obj: &Map<String, Value>, sels: &[Selector]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, v) in obj {
        if ["schemas", "id"].contains(&key.as_str()) {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let ext = sels
            .iter()
            .find_map(|s| s.ext.filter(|e| e.eq_ignore_ascii_case(key)));
        let picked = match (ext, v) {
            (Some(ext), Value::Object(inner)) => {
                if sels.iter().any(|s| s.ext == Some(ext) && s.attr.is_none()) {
                    Some(v.clone())
                } else {
                    let mine: Vec<&Selector> = sels.iter().filter(|s| s.ext == Some(ext)).collect();
                    Some(Value::Object(pick(inner, &mine)))
                }
            }
            _ => {
                let mine: Vec<&Selector> = sels.iter().filter(|s| s.ext.is_none()).collect();
                let mut one = Map::new();
                one.insert(key.clone(), v.clone());
                pick(&one, &mine).remove(key)
            }
        };
        if let Some(v) = picked.filter(|v| !is_empty(v)) {
            out.insert(key.clone(), v);
        }
    }
    out
}

/// The attributes of `obj` the selectors name (whole, or some sub-attributes).
fn pick(obj: &Map<String, Value>, sels: &[&Selector]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, v) in obj {
        let mine: Vec<&&Selector> = sels
            .iter()
            .filter(|s| s.attr.is_some_and(|a| a.eq_ignore_ascii_case(key)))
            .collect();
        if mine.is_empty() {
            continue;
        }
        if mine.iter().any(|s| s.sub.is_none()) {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let subs: Vec<&str> = mine.iter().filter_map(|s| s.sub).collect();
        let keep = |o: &Map<String, Value>| -> Map<String, Value> {
            o.iter()
                .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let kept = match v {
            Value::Object(o) => Value::Object(keep(o)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(keep)
                    .filter(|o| !o.is_empty())
                    .map(Value::Object)
                    .collect(),
            ),
            _ => continue,
        };
        if !is_empty(&kept) {
            out.insert(key.clone(), kept);
        }
    }
    out
}

fn exclude(mut obj: Map<String, Value>, sels: &[Selector]) -> Map<String, Value> {
    for s in sels.iter().filter(|s| !s.always) {
        let container = match s.ext {
            None => &mut obj,
            Some(ext) => {
                let Some(key) = key_ci(&obj, ext) else {
                    continue;
                };
                if s.attr.is_none() {
                    obj.remove(&key);
                    continue;
                }
                match obj.get_mut(&key) {
                    Some(Value::Object(inner)) => inner,
                    _ => continue,
                }
            }
        };
        let Some(attr) = s.attr else { continue };
        let Some(key) = key_ci(container, attr) else {
            continue;
        };
        match s.sub {
            None => {
                container.remove(&key);
            }
            Some(sub) => {
                if let Some(v) = container.get_mut(&key) {
                    drop_sub(v, sub);
                    if is_empty(v) {
                        container.remove(&key);
                    }
                }
            }
        }
    }
    obj.retain(|_, v| !is_empty(v));
    obj
}

fn drop_sub(v: &mut Value, sub: &str) {
    match v {
        Value::Object(o) => {
            if let Some(k) = key_ci(o, sub) {
                o.remove(&k);
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                drop_sub(item, sub);
            }
            items.retain(|i| !is_empty(i));
        }
        _ => {}
    }
}
