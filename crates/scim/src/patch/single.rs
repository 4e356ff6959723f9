//! Single-valued attributes, simple (`active`, `userName`) or complex
//! (`name`, `manager`). `add` on one is a replace (RFC 7644 §3.5.2.1; Entra
//! disables users with `"op":"Add","path":"active"`).

use serde_json::{Map, Value};

use super::request::OpKind;
use crate::error::ScimError;
use crate::resource::coerce;
use crate::resource::normalize::{container_mut, set};
use crate::schema::attr::Attr;
use crate::schema::resolve::Target;

type Result<T> = std::result::Result<T, ScimError>;

pub(super) fn apply(
    doc: &mut Map<String, Value>,
    target: Target,
    op: OpKind,
    sub: Option<&'static Attr>,
    value: Option<&Value>,
) -> Result<()> {
    let attr = target.attr;
    let value = match (op, value) {
        (OpKind::Remove, _) => None,
        (OpKind::Add, None) => return Err(missing_value(attr, sub)),
        (_, v) => v,
    };
    let Some(container) = container_mut(doc, target.ext) else {
        return Ok(());
    };
    match sub {
        None => {
            let coerced = match value {
                Some(v) => coerce::attribute(attr, v, attr.name)?,
                None => None,
            };
            match coerced {
                Some(v) => set(doc, target, v),
                None => {
                    container.remove(attr.name);
                }
            }
        }
        Some(sub) => {
            let label = format!("{}.{}", attr.name, sub.name);
            let coerced = match value {
                Some(v) => coerce::attribute(sub, v, &label)?,
                None => None,
            };
            let obj = container
                .entry(attr.name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !obj.is_object() {
                *obj = Value::Object(Map::new());
            }
            if let Value::Object(obj) = obj {
                match coerced {
                    Some(v) => {
                        obj.insert(sub.name.to_string(), v);
                    }
                    None => {
                        obj.remove(sub.name);
                    }
                }
            }
            if container
                .get(attr.name)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                container.remove(attr.name);
            }
        }
    }
    Ok(())
}

pub(super) fn missing_value(attr: &Attr, sub: Option<&Attr>) -> ScimError {
    let name = match sub {
        Some(s) => format!("{}.{}", attr.name, s.name),
        None => attr.name.to_string(),
    };
    ScimError::invalid_value(format!("add on \"{name}\" needs a value"))
}
