//! Whole-document rules: required attributes, one entry per `type`, one
//! `primary`, E.164 work and mobile numbers, plausible e-mail addresses.

use serde_json::{Map, Value};

use super::is_e164;
use crate::error::ScimError;
use crate::json::as_bool;
use crate::schema::ResourceKind;

type Result<T> = std::result::Result<T, ScimError>;

/// The phone types the platform dials and keeps unique (its users' mobile and work numbers): these must be
/// E.164. Other types (`fax`, `other`, `home`, `pager`, untyped) are only stored and returned, so they are kept
/// as the client wrote them — scim2-tester and many directories send national numbers there.
const DIALLED_PHONE_TYPES: [&str; 2] = ["mobile", "work"];

/// Longest stored-only phone number we accept: generous for extensions and notes, small enough for a row.
pub const PHONE_VALUE_MAX: usize = 64;

pub(crate) fn document(kind: ResourceKind, doc: &Map<String, Value>) -> Result<()> {
    match kind {
        ResourceKind::User => user(doc),
        ResourceKind::Group => group(doc),
    }
}

/// The attributes the platform keeps as one-line names and keys: a line break or other control character in
/// one would show in lists and logs as something else than what was sent.
const USER_LINES: [&str; 3] = ["userName", "externalId", "displayName"];
const NAME_LINES: [&str; 3] = ["givenName", "familyName", "formatted"];
const GROUP_LINES: [&str; 2] = ["displayName", "externalId"];

fn single_line(attr: &str, v: Option<&Value>) -> Result<()> {
    match v.and_then(Value::as_str) {
        Some(s) if s.chars().any(char::is_control) => Err(ScimError::invalid_value(format!(
            "{attr} must be a single line without control characters"
        ))),
        _ => Ok(()),
    }
}

fn user(doc: &Map<String, Value>) -> Result<()> {
    require_string(doc, "userName")?;
    for attr in USER_LINES {
        single_line(attr, doc.get(attr))?;
    }
    if let Some(name) = doc.get("name").and_then(Value::as_object) {
        for sub in NAME_LINES {
            single_line(&format!("name.{sub}"), name.get(sub))?;
        }
    }
    let emails = entries(doc, "emails");
    if emails.is_empty() {
        return Err(ScimError::invalid_value(
            "emails is required: a user needs at least one e-mail address",
        ));
    }
    for attr in ["emails", "phoneNumbers", "addresses", "roles"] {
        let list = entries(doc, attr);
        one_primary(attr, &list)?;
        if attr != "roles" {
            unique_types(attr, &list)?;
        }
        if attr != "addresses" {
            for e in &list {
                entry_value(attr, e)?;
            }
        }
    }
    Ok(())
}

fn group(doc: &Map<String, Value>) -> Result<()> {
    require_string(doc, "displayName")?;
    for attr in GROUP_LINES {
        single_line(attr, doc.get(attr))?;
    }
    for m in entries(doc, "members") {
        if m.get("value")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ScimError::invalid_value(
                "each members entry needs a value: the id of a User",
            ));
        }
    }
    Ok(())
}

fn require_string(doc: &Map<String, Value>, name: &str) -> Result<()> {
    match doc.get(name).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(ScimError::invalid_value(format!("{name} is required"))),
    }
}

fn entries<'a>(doc: &'a Map<String, Value>, name: &str) -> Vec<&'a Map<String, Value>> {
    match doc.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn type_of(e: &Map<String, Value>) -> Option<&str> {
    e.get("type").and_then(Value::as_str)
}

/// How an entry is named in error details: `emails[type eq "work"]`.
fn label(attr: &str, e: &Map<String, Value>) -> String {
    match type_of(e) {
        Some(t) => format!("{attr}[type eq {}]", Value::String(t.to_string())),
        None => attr.to_string(),
    }
}

/// Entra matches entries by `type`, so two entries of one type would be
/// ambiguous (its docs require the uniqueness).
fn unique_types(attr: &str, list: &[&Map<String, Value>]) -> Result<()> {
    let mut seen: Vec<String> = Vec::new();
    for t in list.iter().filter_map(|e| type_of(e)) {
        let folded = t.to_lowercase();
        if seen.contains(&folded) {
            return Err(ScimError::invalid_value(format!(
                "{attr} has two entries of type {}",
                Value::String(t.to_string())
            )));
        }
        seen.push(folded);
    }
    Ok(())
}

fn one_primary(attr: &str, list: &[&Map<String, Value>]) -> Result<()> {
    let primaries = list
        .iter()
        .filter(|e| e.get("primary").and_then(as_bool) == Some(true))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!(
            "{attr} has {primaries} entries with primary true; at most one may be primary"
        )));
    }
    Ok(())
}

fn entry_value(attr: &str, e: &Map<String, Value>) -> Result<()> {
    let Some(value) = e.get("value").and_then(Value::as_str) else {
        return Err(ScimError::invalid_value(format!(
            "{} has no value",
            label(attr, e)
        )));
    };
    let shown = Value::String(value.to_string());
    match attr {
        "emails" if !is_email(value) => Err(ScimError::invalid_value(format!(
            "{}.value {shown} is not an e-mail address (expected name@domain)",
            label(attr, e)
        ))),
        "phoneNumbers" if is_dialled(e) && !is_e164(value) => {
            Err(ScimError::invalid_value(format!(
                "{}.value {shown} is not an E.164 number (a + and 7 to 15 digits, e.g. +16135922122)",
                label(attr, e)
            )))
        }
        "phoneNumbers" if value.chars().count() > PHONE_VALUE_MAX => {
            Err(ScimError::invalid_value(format!(
                "{}.value is longer than {PHONE_VALUE_MAX} characters",
                label(attr, e)
            )))
        }
        "phoneNumbers" if value.chars().any(char::is_control) => {
            Err(ScimError::invalid_value(format!(
                "{}.value {shown} contains a control character",
                label(attr, e)
            )))
        }
        _ => Ok(()),
    }
}

fn is_dialled(e: &Map<String, Value>) -> bool {
    type_of(e).is_some_and(|t| {
        DIALLED_PHONE_TYPES
            .iter()
            .any(|d| t.eq_ignore_ascii_case(d))
    })
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    }
}
