//! Event history: what an audit event records. Every mutation produces one, written in the same
//! transaction as the change.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{AccountId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    Create,
    Edit,
    Delete,
    #[serde(rename = "License Assignment")]
    LicenseAssignment,
    #[serde(rename = "License Configuration Update")]
    LicenseConfigurationUpdate,
    #[serde(rename = "License Removal")]
    LicenseRemoval,
    #[serde(rename = "Sign In")]
    SignIn,
    #[serde(rename = "Sign-in Failed")]
    SignInFailed,
    /// A protocol request refused for security reasons (a replayed token, a delegation not allowed).
    Refused,
}

impl Action {
    pub const ALL: [Action; 9] = [
        Action::Create,
        Action::Edit,
        Action::Delete,
        Action::LicenseAssignment,
        Action::LicenseConfigurationUpdate,
        Action::LicenseRemoval,
        Action::SignIn,
        Action::SignInFailed,
        Action::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Edit => "Edit",
            Action::Delete => "Delete",
            Action::LicenseAssignment => "License Assignment",
            Action::LicenseConfigurationUpdate => "License Configuration Update",
            Action::LicenseRemoval => "License Removal",
            Action::SignIn => "Sign In",
            Action::SignInFailed => "Sign-in Failed",
            Action::Refused => "Refused",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    Admin,
    #[serde(rename = "MiVB")]
    Mivb,
    #[serde(rename = "Service Delivery")]
    ServiceDelivery,
    /// Sign-ins, second factors, tokens: what a security review reads.
    Security,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::Admin,
        EventType::Mivb,
        EventType::ServiceDelivery,
        EventType::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Admin => "Admin",
            EventType::Mivb => "MiVB",
            EventType::ServiceDelivery => "Service Delivery",
            EventType::Security => "Security",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

/// The assets events are recorded against: the seeds' list, plus the objects of the platform itself.
pub const ASSETS: &[&str] = &[
    "Account",
    "User",
    "Role",
    "Integration",
    "Privilege",
    "API Token",
    "Account Manager",
    "DID",
    "DN Range",
    "Group",
    "Group Membership",
    "PBX User Profile",
    "Phone",
    "Templated Services",
    "User License",
    "Tenant",
    "OAuth Client",
    "Sign-in",
    "MFA",
    "Job",
    "User Import",
];

/// Who did it. Actor names are resolved at read time, so a deleted user shows as "Unknown".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserId),
    System,
    Scim,
}

impl Actor {
    pub fn id(&self) -> String {
        match self {
            Actor::User(id) => id.to_string(),
            Actor::System => "system".to_string(),
            Actor::Scim => "scim".to_string(),
        }
    }
}

/// An event about to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub account_id: AccountId,
    pub actor: Actor,
    pub action: Action,
    pub event_type: EventType,
    pub asset: &'static str,
    pub asset_id: String,
    pub properties_changed: Vec<String>,
    pub core_details: Map<String, Value>,
    pub extra_details: Option<Value>,
    pub tags: Vec<String>,
}

impl NewEvent {
    pub fn admin(
        account_id: AccountId,
        actor: Actor,
        action: Action,
        asset: &'static str,
        asset_id: impl ToString,
    ) -> Self {
        NewEvent {
            account_id,
            actor,
            action,
            event_type: EventType::Admin,
            asset,
            asset_id: asset_id.to_string(),
            properties_changed: Vec::new(),
            core_details: Map::new(),
            extra_details: None,
            tags: Vec::new(),
        }
    }

    /// A security event (sign-in, second factor, token) about `asset`.
    pub fn security(
        account_id: AccountId,
        actor: Actor,
        action: Action,
        asset: &'static str,
        asset_id: impl ToString,
    ) -> Self {
        NewEvent {
            event_type: EventType::Security,
            ..NewEvent::admin(account_id, actor, action, asset, asset_id)
        }
    }

    pub fn changed(mut self, properties: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.properties_changed
            .extend(properties.into_iter().map(Into::into));
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.core_details.insert(key.to_string(), value.into());
        self
    }

    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}
