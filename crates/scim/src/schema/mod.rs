//! Schema URNs, resource kinds and the discovery documents (RFC 7643 §5–§8.7,
//! RFC 7644 §4).

pub(crate) mod attr;
pub(crate) mod defs;
mod meta;
mod render;
pub(crate) mod resolve;

use serde_json::{Value, json};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Prefix of every extension schema URN; Entra's custom attributes
/// (`urn:ietf:params:scim:schemas:extension:<App>:2.0:User:<attr>`) use it.
pub(crate) const EXTENSION_PREFIX: &str = "urn:ietf:params:scim:schemas:extension:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The `schemas` of a rendered resource of this kind.
    pub fn schemas(self) -> Vec<&'static str> {
        match self {
            ResourceKind::User => vec![USER, ENTERPRISE_USER],
            ResourceKind::Group => vec![GROUP],
        }
    }

    /// The core schema URN.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER,
            ResourceKind::Group => GROUP,
        }
    }

    pub(crate) fn core_attrs(self) -> &'static [attr::Attr] {
        match self {
            ResourceKind::User => defs::USER,
            ResourceKind::Group => defs::GROUP,
        }
    }

    /// The extension attributes and the URN they live under, if any.
    pub(crate) fn extension(self) -> Option<(&'static str, &'static [attr::Attr])> {
        match self {
            ResourceKind::User => Some((ENTERPRISE_USER, defs::ENTERPRISE)),
            ResourceKind::Group => None,
        }
    }
}

fn schema_resource(
    base: &str,
    id: &str,
    name: &str,
    description: &str,
    attrs: &[attr::Attr],
) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": id,
        "name": name,
        "description": description,
        "attributes": render::attributes(attrs),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    })
}

/// All Schema resources: User, EnterpriseUser, Group and the RFC 7643 §8.7.2
/// meta-schemas. `base` is the tenant base URL without trailing slash.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema_resource(base, USER, "User", "User Account", defs::USER),
        schema_resource(
            base,
            ENTERPRISE_USER,
            "EnterpriseUser",
            "Enterprise User",
            defs::ENTERPRISE,
        ),
        schema_resource(base, GROUP, "Group", "Group", defs::GROUP),
        schema_resource(
            base,
            SCHEMA_SCHEMA,
            "Schema",
            "Specifies the schema attribute structure that is used for representing schemas.",
            meta::SCHEMA,
        ),
        schema_resource(
            base,
            RESOURCE_TYPE_SCHEMA,
            "ResourceType",
            "Specifies the schema that describes a SCIM resource type.",
            meta::RESOURCE_TYPE,
        ),
        schema_resource(
            base,
            SPC_SCHEMA,
            "ServiceProviderConfig",
            "Schema for representing the service provider's configuration.",
            meta::SERVICE_PROVIDER_CONFIG,
        ),
    ]
}

/// The User and Group ResourceType resources.
pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

/// The ServiceProviderConfig resource (RFC 7643 §5).
pub fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 1_048_576},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the account's SCIM secret token, sent as an HTTP Bearer token.",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

#[cfg(test)]
mod tests;
