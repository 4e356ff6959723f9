//! SCIM provisioning state: the per-account secret token, provisioned users (a SCIM user is a platform user
//! with the same id plus its SCIM document) and groups with members.

pub mod groups;
pub mod save;
pub mod tokens;
pub mod users;
