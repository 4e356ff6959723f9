//! Resolves each operation's path and hands it to the single- or
//! multi-valued semantics.

use serde_json::{Map, Value};

use super::request::{Op, OpKind};
use super::{multi, single};
use crate::error::ScimError;
use crate::path::{self, PatchPath};
use crate::schema::ResourceKind;
use crate::schema::attr::{Mutability, Type};
use crate::schema::defs::COMMON;
use crate::schema::resolve::{Resolution, is_foreign_extension, resolve, schema_urn, split_urn};

type Result<T> = std::result::Result<T, ScimError>;

pub(super) fn apply(kind: ResourceKind, doc: &mut Map<String, Value>, op: &Op<'_>) -> Result<()> {
    match op.path {
        Some(p) => at_path(kind, doc, op.kind, &path::parse(p)?, p, op.value),
        None if op.kind == OpKind::Remove => Err(ScimError::no_target("remove needs a \"path\"")),
        None => match op.value {
            Some(Value::Object(fields)) => fields_as_ops(kind, doc, op.kind, None, fields),
            _ => Err(ScimError::invalid_value(
                "an add or replace without a \"path\" needs an object \"value\"",
            )),
        },
    }
}

/// A path-less add/replace (or one on a whole schema URN): each key of the
/// value object is a path of its own (`name.givenName`, URN-qualified names,
/// a URN holding an object of extension attributes).
fn fields_as_ops(
    kind: ResourceKind,
    doc: &mut Map<String, Value>,
    op: OpKind,
    urn: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<()> {
    for (key, v) in fields {
        // Resource-level keys, present when the value is a whole resource or
        // extension object (scim2-tester's extension values carry `schemas`).
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        let full = match urn {
            Some(urn) => format!("{urn}:{key}"),
            None => key.clone(),
        };
        if urn.is_none() && is_foreign_key(kind, key) {
            continue;
        }
        let path = path::parse(&full)?;
        at_path(
            kind,
            doc,
            op,
            &path,
            &full,
            Some(v).filter(|v| !v.is_null()),
        )?;
    }
    Ok(())
}

/// Entra's custom-extension attributes, or a whole custom-extension object.
fn is_foreign_key(kind: ResourceKind, key: &str) -> bool {
    if schema_urn(kind, key).is_some() {
        return false;
    }
    match split_urn(key) {
        (Some(u), _) => {
            schema_urn(kind, u).is_none() && (is_foreign_extension(u) || is_foreign_extension(key))
        }
        (None, _) => false,
    }
}

fn at_path(
    kind: ResourceKind,
    doc: &mut Map<String, Value>,
    op: OpKind,
    path: &PatchPath,
    raw: &str,
    value: Option<&Value>,
) -> Result<()> {
    if path.attr.is_empty() {
        return whole_schema(kind, doc, op, path.urn.as_deref().unwrap_or(""), raw, value);
    }
    let target = match resolve(kind, path.urn.as_deref(), &path.attr) {
        Resolution::Found(t) => t,
        Resolution::Foreign => return Ok(()),
        Resolution::Schemas => return Err(ScimError::mutability("\"schemas\" cannot be modified")),
        Resolution::Unknown => {
            return Err(ScimError::invalid_path(format!(
                "unknown attribute \"{}\" in path \"{raw}\"",
                path.attr
            )));
        }
    };
    let attr = target.attr;
    if attr.mutability == Mutability::ReadOnly || COMMON.iter().any(|c| std::ptr::eq(c, attr)) {
        return Err(ScimError::mutability(format!(
            "\"{}\" is read-only",
            attr.name
        )));
    }
    let sub = match &path.sub_attr {
        None => None,
        Some(s) => match attr.sub_attr(s) {
            Some(sub) if attr.ty == Type::Complex => Some(sub),
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\" has no sub-attribute \"{s}\" (path \"{raw}\")",
                    attr.name
                )));
            }
        },
    };
    if let Some(sub) = sub {
        if sub.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!(
                "\"{}.{}\" is read-only",
                attr.name, sub.name
            )));
        }
        if sub.mutability == Mutability::Immutable && op != OpKind::Add {
            return Err(ScimError::mutability(format!(
                "\"{}.{}\" is immutable",
                attr.name, sub.name
            )));
        }
        if sub.is_computed() {
            // `manager.$ref` is derived from `manager.value`; nothing to store.
            return Ok(());
        }
    }
    if path.filter.is_some() && !(attr.multi && attr.ty == Type::Complex) {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not multi-valued, so path \"{raw}\" cannot filter it",
            attr.name
        )));
    }
    if attr.multi {
        multi::apply(doc, target, op, path.filter.as_ref(), sub, value)
    } else {
        single::apply(doc, target, op, sub, value)
    }
}

/// A path that is a whole schema URN: the extension object as a unit.
fn whole_schema(
    kind: ResourceKind,
    doc: &mut Map<String, Value>,
    op: OpKind,
    urn: &str,
    raw: &str,
    value: Option<&Value>,
) -> Result<()> {
    let which = match schema_urn(kind, urn) {
        Some(which) => which,
        None if is_foreign_extension(urn) => return Ok(()),
        None => {
            return Err(ScimError::invalid_path(format!(
                "unknown schema in path \"{raw}\""
            )));
        }
    };
    match (op, which) {
        (OpKind::Remove, Some(ext)) => {
            doc.remove(ext);
            Ok(())
        }
        (OpKind::Remove, None) => Err(ScimError::mutability("the core schema cannot be removed")),
        // Like any complex attribute, replace merges the given members
        // (RFC 7644 §3.5.2.3).
        (_, which) => match value {
            Some(Value::Object(fields)) => fields_as_ops(
                kind,
                doc,
                op,
                Some(which.unwrap_or(kind.core_schema())),
                fields,
            ),
            _ => Err(ScimError::invalid_value(format!(
                "path \"{raw}\" needs an object \"value\""
            ))),
        },
    }
}
