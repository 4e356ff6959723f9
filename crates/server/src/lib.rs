//! The Skybridge server: configuration, the HTTP API over the store, first start, and the operator CLI.

pub mod admin_cli;
pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod console;
pub mod edge;
pub mod error;
pub mod housekeeping;
pub mod import_cli;
pub mod jobs;
pub mod limiter;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod scim;
pub mod state;
pub mod telemetry;
pub mod web;

pub use app::Application;
pub use config::Config;

/// Installs the process-wide rustls crypto provider (ring) explicitly, so no dependency's feature set can
/// make rustls guess.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use skybridge_domain as domain;
pub use skybridge_store as store;
