//! Skybridge persistence. One [`Store`] over SQLite (the embedded default) or PostgreSQL; the same SQL text
//! runs on both (ids as UUID text, times as microseconds, JSON as text), dispatched by the [`on_conn!`]
//! macro. Reads and writes of account data take an [`AccountScope`](skybridge_domain::policy::AccountScope),
//! which only the authorization policy mints.

mod db;
mod error;
mod sql;
mod writer;

pub mod accounts;
pub mod events;
pub mod imports;
pub mod integrations;
pub mod jobs;
pub mod links;
pub mod managers;
pub mod mfa;
pub mod notifications;
pub mod oauth;
pub mod outbox;
pub mod preferences;
pub mod roles;
pub mod scim;
pub mod seed;
pub mod sessions;
pub mod settings;
pub mod statistics;
pub mod tokens;
pub mod users;

pub use db::{Backend, Conn, Exec, Handle, Store, Tx};
pub use error::{StoreError, is_unavailable};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
