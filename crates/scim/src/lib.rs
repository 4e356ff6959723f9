//! SCIM 2.0 protocol for Skybridge's per-account provisioning endpoint:
//! RFC 7643 schemas, RFC 7644 filters and PATCH, as Microsoft Entra ID and
//! strict RFC clients (scim2-tester) speak them. No HTTP, no SQL.
//!
//! A stored resource *document* is the RFC wire form minus `schemas`, `id`
//! and `meta`, with canonical attribute names, the Enterprise User attributes
//! under their URN key, no nulls and no empty objects or arrays, and no
//! server-computed reference fields (`$ref`, `display`, member `type`,
//! `manager.displayName`).

pub mod error;
pub mod filter;
mod json;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;

pub use error::ScimError;
pub use schema::ResourceKind;
