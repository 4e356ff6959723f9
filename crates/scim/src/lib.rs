//! SCIM 2.0 protocol for Skybridge's per-account provisioning endpoint.
