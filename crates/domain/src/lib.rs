//! Skybridge's domain: the model and rules of partners, customer accounts, users, roles, integrations and
//! event history. Nothing here does IO; the store persists these values and the server speaks HTTP about them.

pub mod account;
pub mod error;
pub mod event;
pub mod ids;
pub mod import;
pub mod integration;
pub mod job;
pub mod navigation;
pub mod oauth_client;
pub mod permissions;
pub mod policy;
pub mod user;
pub mod validate;

pub use error::{Denied, ValidationError};
pub use ids::{AccountId, EventId, JobId, RoleId, TokenId, UserId};
