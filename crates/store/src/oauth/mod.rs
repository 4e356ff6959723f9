//! The OpenID Connect provider's records: registered clients, signing keys, authorization codes, and
//! grants (a sign-in of a user to a client) with their rotating refresh tokens.

pub mod clients;
pub mod codes;
pub mod grants;
pub mod keys;
