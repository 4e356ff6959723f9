#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! The API integration suite: one binary, each test against a real server on SQLite and (when configured)
//! PostgreSQL. Add modules here rather than new files under tests/.

mod accounts;
mod browser;
mod cli;
mod console;
mod console_browser;
mod console_contacts;
mod console_events;
mod console_import;
mod console_roles;
mod edge;
mod events;
mod health;
mod imports;
mod integrations;
mod isolation;
mod jobs;
mod login;
mod mail;
mod managers;
mod mfa;
mod oidc;
mod openid_client;
mod plans;
mod roles;
mod scim_concurrency;
mod scim_entra;
mod scim_errors;
mod scim_limits;
mod scim_rights;
mod scim_tester;
mod smtp;
mod users;
