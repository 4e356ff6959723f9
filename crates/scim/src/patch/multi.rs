//! Multi-valued complex attributes (`emails`, `phoneNumbers`, `addresses`,
//! `roles`, `members`), with and without value filters.

use serde_json::{Map, Value};

use super::request::OpKind;
use super::single::missing_value;
use crate::error::ScimError;
use crate::filter::{CompareOp, Filter, eval::element_matches};
use crate::json::as_bool;
use crate::resource::coerce;
use crate::resource::normalize::container_mut;
use crate::schema::attr::Attr;
use crate::schema::resolve::Target;

type Result<T> = std::result::Result<T, ScimError>;
type Element = Map<String, Value>;

/// Attributes whose entries Entra addresses by `type` (`emails[type eq
/// "work"]`): one entry per type.
const TYPED: [&str; 3] = ["emails", "phoneNumbers", "addresses"];

pub(super) fn apply(
    doc: &mut Map<String, Value>,
    target: Target,
    op: OpKind,
    filter: Option<&Filter>,
    sub: Option<&'static Attr>,
    value: Option<&Value>,
) -> Result<()> {
    let attr = target.attr;
    if op == OpKind::Add && value.is_none() {
        return Err(missing_value(attr, sub));
    }
    let Some(container) = container_mut(doc, target.ext) else {
        return Ok(());
    };
    let mut list: Vec<Element> = match container.remove(attr.name) {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    match (filter, sub) {
        (None, None) => whole(&mut list, attr, op, value)?,
        (Some(f), None) => filtered(&mut list, attr, op, f, value)?,
        (Some(f), Some(sub)) => filtered_sub(&mut list, attr, op, f, sub, value)?,
        (None, Some(sub)) => every_sub(&mut list, attr, op, sub, value)?,
    }
    if !list.is_empty() {
        container.insert(
            attr.name.to_string(),
            Value::Array(list.into_iter().map(Value::Object).collect()),
        );
    }
    Ok(())
}

/// The elements a value stands for: an array, or a single element.
fn elements(attr: &'static Attr, v: &Value) -> Result<Vec<Element>> {
    Ok(match coerce::attribute(attr, v, attr.name)? {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

fn whole(
    list: &mut Vec<Element>,
    attr: &'static Attr,
    op: OpKind,
    value: Option<&Value>,
) -> Result<()> {
    match (op, value) {
        (OpKind::Add, Some(v)) => {
            let added = elements(attr, v)?;
            // An added entry replaces the entry of its type; two of one type in one add is ambiguous (Q17).
            if TYPED.contains(&attr.name) {
                let mut seen: Vec<String> = Vec::new();
                for t in added.iter().filter_map(type_of) {
                    if seen.iter().any(|s| s.eq_ignore_ascii_case(&t)) {
                        return Err(ScimError::invalid_value(format!(
                            "{} has two entries of type \"{t}\"",
                            attr.name
                        )));
                    }
                    seen.push(t);
                }
            }
            if attr.name == "members" {
                // Members are told apart by id alone; a set keeps a large group's PATCH linear.
                let mut ids: std::collections::HashSet<String> =
                    list.iter().filter_map(member_id).collect();
                for e in added {
                    if member_id(&e).is_none_or(|id| ids.insert(id)) {
                        list.push(e);
                    }
                }
                return Ok(());
            }
            for e in added {
                add_element(list, attr, e);
            }
        }
        (OpKind::Replace, Some(v)) => *list = elements(attr, v)?,
        // Entra removes members with `"value":[{"value":id}]`: only those go;
        // a given value never means "all".
        (OpKind::Remove, Some(v)) => {
            let gone = elements(attr, v)?;
            if attr.name == "members" && gone.iter().all(|g| g.len() == 1 && member_id(g).is_some())
            {
                let ids: std::collections::HashSet<String> =
                    gone.iter().filter_map(member_id).collect();
                list.retain(|e| member_id(e).is_none_or(|id| !ids.contains(&id)));
                return Ok(());
            }
            for gone in gone {
                list.retain(|e| !gone.iter().all(|(k, v)| e.get(k) == Some(v)));
            }
        }
        _ => list.clear(),
    }
    Ok(())
}

/// Appends an element. Duplicates are dropped (members by id); on typed
/// attributes an element of an existing `type` replaces that entry, since a
/// type names one entry; a new primary demotes the others.
fn add_element(list: &mut Vec<Element>, attr: &Attr, new: Element) {
    if list.contains(&new) {
        return;
    }
    if attr.name == "members" && list.iter().any(|e| e.get("value") == new.get("value")) {
        return;
    }
    let same_type = TYPED
        .contains(&attr.name)
        .then(|| type_of(&new))
        .flatten()
        .and_then(|t| {
            list.iter()
                .position(|e| type_of(e).is_some_and(|et| et.eq_ignore_ascii_case(&t)))
        });
    let idx = match same_type {
        Some(i) => {
            list[i] = new;
            i
        }
        None => {
            list.push(new);
            list.len() - 1
        }
    };
    demote_others(list, idx);
}

fn member_id(e: &Element) -> Option<String> {
    e.get("value").and_then(Value::as_str).map(str::to_string)
}

fn type_of(e: &Element) -> Option<String> {
    e.get("type").and_then(Value::as_str).map(str::to_string)
}

/// If `list[keep]` is primary, no other element is (RFC 7643 §2.4).
fn demote_others(list: &mut [Element], keep: usize) {
    if list
        .get(keep)
        .and_then(|e| e.get("primary"))
        .and_then(as_bool)
        != Some(true)
    {
        return;
    }
    for (i, e) in list.iter_mut().enumerate() {
        if i != keep && e.get("primary").and_then(as_bool) == Some(true) {
            e.remove("primary");
        }
    }
}

fn matching(list: &[Element], attr: &'static Attr, f: &Filter) -> Vec<usize> {
    list.iter()
        .enumerate()
        .filter(|(_, e)| element_matches(f, attr, &Value::Object((*e).clone())))
        .map(|(i, _)| i)
        .collect()
}

/// The sub-attribute values a filter of `eq`s pins (`type eq "work" and
/// primary eq "True"` → `{type: "work", primary: true}`).
fn pinned(attr: &'static Attr, f: &Filter) -> Option<Element> {
    match f {
        Filter::And(a, b) => {
            let mut s = pinned(attr, a)?;
            s.extend(pinned(attr, b)?);
            Some(s)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let sub = attr.sub_attr(&path.attr).filter(|s| !s.is_computed())?;
            let v = coerce::element(sub, value, sub.name).ok()??;
            let mut s = Element::new();
            s.insert(sub.name.to_string(), v);
            Some(s)
        }
        _ => None,
    }
}

/// The entry to create when a filter matches nothing, if the filter names a
/// slot rather than an existing entry: Entra's `replace` on
/// `emails[type eq "work"].value` (or `roles[primary eq "True"].value`)
/// expects that entry to be created. Filters on anything else (a `value`)
/// designate an entry that must exist.
fn seed(attr: &'static Attr, f: &Filter) -> Option<Element> {
    pinned(attr, f).filter(|s| s.keys().all(|k| k == "type" || k == "primary"))
}

fn no_match(attr: &Attr) -> ScimError {
    ScimError::no_target(format!("the filter matches no {} entry", attr.name))
}

fn filtered(
    list: &mut Vec<Element>,
    attr: &'static Attr,
    op: OpKind,
    f: &Filter,
    value: Option<&Value>,
) -> Result<()> {
    let hits = matching(list, attr, f);
    let new = match (op, value) {
        (OpKind::Remove, _) | (OpKind::Replace, None) => {
            // Entra re-sends removals: no match is fine.
            let mut i = 0;
            list.retain(|_| {
                i += 1;
                !hits.contains(&(i - 1))
            });
            return Ok(());
        }
        (_, Some(v)) => {
            let mut new = Element::new();
            for e in elements(attr, v)? {
                new.extend(e);
            }
            new
        }
        (_, None) => return Err(missing_value(attr, None)),
    };
    if hits.is_empty() {
        let mut created = seed(attr, f).ok_or_else(|| no_match(attr))?;
        created.extend(new);
        add_element(list, attr, created);
        return Ok(());
    }
    for &i in &hits {
        match op {
            OpKind::Add => list[i].extend(new.clone()),
            // Keep what the filter pinned (the `type`), so the entry stays
            // addressable by the same filter.
            _ => {
                let mut replaced = pinned(attr, f).unwrap_or_default();
                replaced.extend(new.clone());
                list[i] = replaced;
            }
        }
        demote_others(list, i);
    }
    Ok(())
}

fn filtered_sub(
    list: &mut Vec<Element>,
    attr: &'static Attr,
    op: OpKind,
    f: &Filter,
    sub: &'static Attr,
    value: Option<&Value>,
) -> Result<()> {
    let hits = matching(list, attr, f);
    let label = format!("{}.{}", attr.name, sub.name);
    let v = match value {
        Some(v) if op != OpKind::Remove => coerce::attribute(sub, v, &label)?,
        _ => None,
    };
    let Some(v) = v else {
        for &i in &hits {
            list[i].remove(sub.name);
        }
        drop_hollow(list, attr);
        return Ok(());
    };
    if hits.is_empty() {
        let mut created = seed(attr, f).ok_or_else(|| no_match(attr))?;
        created.insert(sub.name.to_string(), v);
        add_element(list, attr, created);
        return Ok(());
    }
    for &i in &hits {
        list[i].insert(sub.name.to_string(), v.clone());
        demote_others(list, i);
    }
    Ok(())
}

fn every_sub(
    list: &mut Vec<Element>,
    attr: &'static Attr,
    op: OpKind,
    sub: &'static Attr,
    value: Option<&Value>,
) -> Result<()> {
    let label = format!("{}.{}", attr.name, sub.name);
    let v = match value {
        Some(v) if op != OpKind::Remove => coerce::attribute(sub, v, &label)?,
        _ => None,
    };
    match v {
        None => {
            for e in list.iter_mut() {
                e.remove(sub.name);
            }
            drop_hollow(list, attr);
        }
        Some(v) if list.is_empty() => {
            let mut e = Element::new();
            e.insert(sub.name.to_string(), v);
            list.push(e);
        }
        Some(v) => {
            for e in list.iter_mut() {
                e.insert(sub.name.to_string(), v.clone());
            }
        }
    }
    Ok(())
}

/// Drops entries left without their required `value` (removing
/// `emails[type eq "work"].value` removes the work e-mail) or empty.
fn drop_hollow(list: &mut Vec<Element>, attr: &'static Attr) {
    let needs_value = attr
        .sub_attr("value")
        .is_some_and(|v| v.required || attr.name == "members");
    list.retain(|e| !e.is_empty() && (!needs_value || e.contains_key("value")));
}
