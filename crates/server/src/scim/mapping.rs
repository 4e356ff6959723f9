//! From a SCIM document to the platform user it provisions, and from stored rows to the wire form.

use serde_json::{Map, Value, json};
use skybridge_domain::validate::{self, DISPLAY_NAME_MAX, NAME_MAX};
use skybridge_scim::{ResourceKind, ScimError, schema};
use skybridge_store::scim::groups::{GroupRow, Member};
use skybridge_store::scim::users::{ScimColumns, ScimUserRow};

use super::Tenant;
use crate::clock::rfc3339;

/// Longest userName / externalId we keep (Entra's UPNs are at most 113 characters).
const KEY_MAX: usize = 256;

/// The platform side of a provisioned user.
#[derive(Debug, Clone)]
pub struct PlatformUser {
    pub user_name: String,
    pub external_id: Option<String>,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub mobile: Option<String>,
    pub work_phone: Option<String>,
    pub active: bool,
    /// The platform role the primary SCIM role names, when it names one.
    pub role: Option<&'static str>,
}

impl PlatformUser {
    pub fn columns(&self, doc: &Value) -> ScimColumns {
        ScimColumns {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            work_phone: self.work_phone.clone(),
            mobile: self.mobile.clone(),
            document: doc.to_string(),
        }
    }

    /// The numbers that must be unique in the account, named as the attribute a conflict is reported on.
    pub fn phones(&self) -> Vec<(&'static str, &str)> {
        let mut v = Vec::new();
        if let Some(m) = &self.mobile {
            v.push(("phoneNumbers[type eq \"mobile\"].value", m.as_str()));
        }
        if let Some(w) = &self.work_phone {
            v.push(("phoneNumbers[type eq \"work\"].value", w.as_str()));
        }
        v
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// The element of a multi-valued attribute of `type` `wanted`, else the primary one, else the first.
fn typed<'a>(doc: &'a Value, attr: &str, wanted: &str, fallback: bool) -> Option<&'a Value> {
    let items = doc.get(attr)?.as_array()?;
    items
        .iter()
        .find(|e| {
            e.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
        })
        .or_else(|| {
            fallback
                .then(|| {
                    items
                        .iter()
                        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
                        .or_else(|| items.first())
                })
                .flatten()
        })
}

fn limited(attr: &str, value: &str, max: usize) -> Result<String, ScimError> {
    if value.chars().count() > max {
        return Err(ScimError::invalid_value(format!(
            "{attr} is longer than {max} characters"
        )));
    }
    Ok(value.to_string())
}

/// What the platform keeps of a validated user document.
pub fn platform_user(doc: &Value) -> Result<PlatformUser, ScimError> {
    let user_name =
        text(doc, "userName").ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let user_name = limited("userName", user_name, KEY_MAX)?;
    let external_id = text(doc, "externalId")
        .map(|e| limited("externalId", e, KEY_MAX))
        .transpose()?;
    let email = typed(doc, "emails", "work", true)
        .and_then(|e| text(e, "value"))
        .ok_or_else(|| {
            ScimError::invalid_value(
                "emails[type eq \"work\"].value is required: a user needs an e-mail address",
            )
        })?;
    let email = validate::email("emails[type eq \"work\"].value", email)
        .map_err(|e| ScimError::invalid_value(e.to_string()))?;
    // The platform compares the e-mail it keeps; SCIM returns the value exactly as sent from the document.
    let name = doc.get("name").cloned().unwrap_or(Value::Null);
    let first_name = text(&name, "givenName")
        .map(|s| limited("name.givenName", s.trim(), NAME_MAX))
        .transpose()?;
    let last_name = text(&name, "familyName")
        .map(|s| limited("name.familyName", s.trim(), NAME_MAX))
        .transpose()?;
    let display = text(doc, "displayName")
        .map(str::to_string)
        .or_else(|| text(&name, "formatted").map(str::to_string))
        .or_else(|| {
            let joined = [first_name.as_deref(), last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        })
        // Entra sends a name when the admin maps one; a client that sends none gets its userName shown.
        .unwrap_or_else(|| user_name.clone());
    let display_name = limited("displayName", display.trim(), DISPLAY_NAME_MAX)?;
    let phone = |kind: &str| {
        typed(doc, "phoneNumbers", kind, false)
            .and_then(|e| text(e, "value"))
            .map(str::to_string)
    };
    let role = typed(doc, "roles", "", true)
        .and_then(|r| text(r, "value"))
        .and_then(|v| match v.trim().to_ascii_lowercase().as_str() {
            "user" => Some("user"),
            "account admin" | "account_admin" | "accountadmin" => Some("account_admin"),
            _ => None,
        });
    Ok(PlatformUser {
        user_name,
        external_id,
        email,
        first_name,
        last_name,
        display_name,
        mobile: phone("mobile"),
        work_phone: phone("work"),
        active: doc.get("active").and_then(Value::as_bool).unwrap_or(true),
        role,
    })
}

fn meta(
    t: &Tenant,
    kind: ResourceKind,
    id: &str,
    created: i64,
    modified: i64,
    version: i64,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": format!("{}/{}/{id}", t.base, kind.endpoint()),
        "version": format!("W/\"{version}\""),
    })
}

fn parse_doc(raw: &str) -> Map<String, Value> {
    match serde_json::from_str(raw) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The wire form of a provisioned user.
pub fn render_user(t: &Tenant, row: &ScimUserRow) -> Value {
    let mut doc = parse_doc(&row.document);
    let mut schemas = vec![Value::from(schema::USER)];
    if let Some(ext) = doc.get_mut(schema::ENTERPRISE_USER) {
        schemas.push(Value::from(schema::ENTERPRISE_USER));
        if let Some(manager) = ext.get_mut("manager").and_then(Value::as_object_mut)
            && let Some(id) = manager
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_string)
        {
            manager.insert("$ref".into(), format!("{}/Users/{id}", t.base).into());
        }
    }
    // The platform's state is the truth for `active` (an admin may have deactivated the user); a client that
    // never set it, or removed it, reads it back absent while the user is active.
    if doc.contains_key("active") || !row.user.active {
        doc.insert("active".into(), row.user.active.into());
    }
    doc.insert("schemas".into(), schemas.into());
    doc.insert("id".into(), row.user.id.clone().into());
    doc.insert(
        "meta".into(),
        meta(
            t,
            ResourceKind::User,
            &row.user.id,
            row.scim_created_at,
            row.scim_modified_at,
            row.version,
        ),
    );
    Value::Object(doc)
}

/// The wire form of a group; `members` when they were loaded.
pub fn render_group(t: &Tenant, row: &GroupRow, members: Option<&[Member]>) -> Value {
    let mut doc = parse_doc(&row.document);
    doc.remove("members");
    if let Some(members) = members.filter(|m| !m.is_empty()) {
        doc.insert(
            "members".into(),
            members
                .iter()
                .map(|m| {
                    // What a client wrote reads back equal: the id, its location, and its type (members
                    // are Users). `display` is not returned: it would differ from what was sent.
                    json!({
                        "value": m.user_id,
                        "$ref": format!("{}/Users/{}", t.base, m.user_id),
                        "type": "User",
                    })
                })
                .collect::<Vec<_>>()
                .into(),
        );
    }
    doc.insert("schemas".into(), json!([schema::GROUP]));
    doc.insert("id".into(), row.id.clone().into());
    doc.insert(
        "meta".into(),
        meta(
            t,
            ResourceKind::Group,
            &row.id,
            row.created_at,
            row.modified_at,
            row.version,
        ),
    );
    Value::Object(doc)
}

/// A group document as stored: without members (they live in their own table).
pub fn group_document(doc: &Value) -> (String, Option<String>, String, Vec<String>) {
    let display = text(doc, "displayName").unwrap_or_default().to_string();
    let external = text(doc, "externalId").map(str::to_string);
    let members = doc
        .get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut stored = doc.clone();
    if let Some(o) = stored.as_object_mut() {
        o.remove("members");
    }
    (display, external, stored.to_string(), members)
}

/// The document of a stored group with its members, for PATCH to work on.
pub fn group_with_members(row: &GroupRow, members: &[Member]) -> Value {
    let mut doc = parse_doc(&row.document);
    if !members.is_empty() {
        doc.insert(
            "members".into(),
            members
                .iter()
                .map(|m| json!({ "value": m.user_id }))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    Value::Object(doc)
}

/// The stored document of a user (what PATCH works on), with `active` from the platform.
pub fn user_document(row: &ScimUserRow) -> Value {
    let mut doc = parse_doc(&row.document);
    if doc.contains_key("active") || !row.user.active {
        doc.insert("active".into(), row.user.active.into());
    }
    Value::Object(doc)
}
