//! The PatchOp envelope (RFC 7644 §3.5.2), read leniently: `schemas`
//! optional, `Operations`/`op`/`path`/`value` keys and `op` values in any case.

use serde_json::Value;

use crate::error::ScimError;
use crate::json::get_ci;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug)]
pub(crate) struct Op<'a> {
    pub kind: OpKind,
    pub path: Option<&'a str>,
    /// `None` when absent or null.
    pub value: Option<&'a Value>,
}

pub(crate) fn operations(body: &Value) -> Result<Vec<Op<'_>>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(
            "a PATCH body must be a JSON object",
        ));
    };
    let ops = match get_ci(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "a PATCH body needs a non-empty \"Operations\" array",
            ));
        }
    };
    ops.iter()
        .enumerate()
        .map(|(i, op)| operation(i, op))
        .collect()
}

fn operation(i: usize, op: &Value) -> Result<Op<'_>, ScimError> {
    let Value::Object(op) = op else {
        return Err(ScimError::invalid_syntax(format!(
            "Operations[{i}] must be an object"
        )));
    };
    let kind = match get_ci(op, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}].op is {other}; expected \"add\", \"replace\" or \"remove\""
            )));
        }
        None => {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] has no \"op\""
            )));
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "Operations[{i}].path must be a string"
            )));
        }
    };
    let value = get_ci(op, "value").filter(|v| !v.is_null());
    Ok(Op { kind, path, value })
}
