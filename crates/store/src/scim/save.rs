//! Writing a provisioned user in one transaction: the uniqueness check, the platform row, the SCIM row (with an
//! optimistic version check on update), ending sessions and grants on deactivation, and the audit event.
//!
//! On SQLite the whole write runs as one queued transaction on the writer connection (one thread hand-off
//! instead of one per statement); on PostgreSQL as a transaction of the same statements.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::named_params;
use skybridge_domain::event::NewEvent;
use skybridge_domain::policy::AccountScope;

use super::users::{ScimColumns, Uniques, conflict};
use crate::events::{EventValues, INSERT_COLUMNS};
use crate::users::{COLUMNS, UserRow};
use crate::{Result, Store, StoreError};

/// One user write.
#[derive(Debug, Clone)]
pub struct Save {
    pub user: UserRow,
    pub columns: ScimColumns,
    /// `None` creates the user; `Some(v)` updates it if its SCIM row is still at version `v`.
    pub expected_version: Option<i64>,
    /// The user goes from active to inactive: sessions end and grants are revoked.
    pub deactivate: bool,
    /// Numbers that must be unique, with the attribute each is reported as.
    pub phones: Vec<(&'static str, String)>,
    pub event: NewEvent,
    pub actor_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Done,
    /// Another user of the account holds the value of this attribute.
    Conflict(&'static str),
    /// The user changed (or went) since it was read: read again and redo.
    Stale,
}

const CONFLICT_SQL: &str = "SELECT \
   EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND user_name_key = $3 AND user_id <> $2) \
     OR EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND login_id = $4 AND id <> $2), \
   EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND external_id = $5 AND user_id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND email_key = $6 AND id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $7 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $7 AND user_id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $8 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $8 AND user_id <> $2)";

pub(crate) fn conflict_sql() -> &'static str {
    CONFLICT_SQL
}

/// Which attribute the five answers of [`CONFLICT_SQL`] name, first one first.
pub(crate) fn first_conflict(
    found: [bool; 5],
    phones: &[(&'static str, String)],
) -> Option<&'static str> {
    let phone = |i: usize| phones.get(i).map(|(attr, _)| *attr);
    match found {
        [true, ..] => Some("userName"),
        [_, true, ..] => Some("externalId"),
        [_, _, true, ..] => Some("emails[type eq \"work\"].value"),
        [_, _, _, true, _] => phone(0),
        [.., true] => phone(1),
        _ => None,
    }
}

pub async fn save(store: &Store, scope: &AccountScope, s: Save) -> Result<Saved> {
    match store {
        Store::Sqlite(..) => save_sqlite(store, scope, s).await,
        Store::Postgres(pool) => {
            let created = s.expected_version.is_none();
            let saved = save_tx(store, scope, s).await?;
            if created && saved == Saved::Done {
                refresh_statistics(pool);
            }
            Ok(saved)
        }
    }
}

/// Users created through SCIM by this process.
static CREATED: AtomicU64 = AtomicU64::new(0);

/// PostgreSQL keeps a connection's plan of a prepared statement once it has settled on a generic one; a plan
/// made while `users` was nearly empty can scan a whole account for what an index finds at once, and stays
/// until the table's statistics change. An Entra initial cycle grows the table from nothing to 100,000 rows in
/// minutes, faster than autovacuum's analyze follows (and some servers run without it), so the statistics are
/// refreshed as the number created here doubles: 512, 1,024, 2,048 …, ANALYZE invalidating the stale plans.
fn refresh_statistics(pool: &sqlx::PgPool) {
    let n = CREATED.fetch_add(1, Ordering::Relaxed) + 1;
    if n < 512 || !n.is_power_of_two() {
        return;
    }
    let pool = pool.clone();
    tokio::spawn(async move {
        if let Err(e) = sqlx::query("ANALYZE users, scim_users").execute(&pool).await {
            tracing::warn!(error = %e, "ANALYZE after SCIM inserts failed");
        }
    });
}

async fn save_tx(store: &Store, scope: &AccountScope, s: Save) -> Result<Saved> {
    let mut tx = store.begin().await?;
    let phones: Vec<(&'static str, &str)> =
        s.phones.iter().map(|(a, n)| (*a, n.as_str())).collect();
    let uniques = Uniques {
        except: s.expected_version.and_then(|_| s.user.user_id().ok()),
        user_name: &s.columns.user_name,
        external_id: s.columns.external_id.as_deref(),
        email: &s.user.email,
        phones,
    };
    if let Some(attr) = conflict(&mut tx, scope, &uniques).await? {
        return Ok(Saved::Conflict(attr));
    }
    let id = s.user.user_id()?;
    match s.expected_version {
        None => super::users::insert(&mut tx, scope, &s.user, &s.columns).await?,
        Some(v) => {
            if !super::users::update_if(&mut tx, scope, &s.user, &s.columns, v).await? {
                return Ok(Saved::Stale);
            }
        }
    }
    if s.deactivate {
        crate::sessions::delete_for_user(&mut tx, scope, id).await?;
        crate::oauth::grants::revoke_for_user(&mut tx, scope, id, s.user.modified_at).await?;
    }
    crate::events::insert(&mut tx, &s.event, &s.actor_name, s.user.modified_at).await?;
    tx.commit().await?;
    Ok(Saved::Done)
}

async fn save_sqlite(store: &Store, scope: &AccountScope, s: Save) -> Result<Saved> {
    let account = scope.account_id().to_string();
    let event = EventValues::new(&s.event, &s.actor_name, s.user.modified_at);
    let tags = s.event.tags.clone();
    let out = store
        .sqlite_write(move |tx| {
            let u = &s.user;
            let c = &s.columns;
            let except = if s.expected_version.is_some() { u.id.clone() } else { String::new() };
            let phone = |i: usize| s.phones.get(i).map(|(_, n)| n.clone());
            let found: (bool, bool, bool, bool, bool) = tx.query_row(
                CONFLICT_SQL,
                named_params! {
                    "$1": account, "$2": except, "$3": c.user_name.to_lowercase(), "$4": c.user_name,
                    "$5": c.external_id, "$6": u.email.to_lowercase(), "$7": phone(0), "$8": phone(1),
                },
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?;
            if let Some(attr) =
                first_conflict([found.0, found.1, found.2, found.3, found.4], &s.phones)
            {
                return Ok(Saved::Conflict(attr));
            }
            match s.expected_version {
                None => {
                    tx.execute(
                        &format!(
                            "INSERT INTO users ({COLUMNS}, name_key, email_key) VALUES ($1, $2, $3, $4, $5, $6, \
                             $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                        ),
                        named_params! {
                            "$1": u.id, "$2": account, "$3": u.first_name, "$4": u.last_name,
                            "$5": u.display_name, "$6": u.email, "$7": u.login_id, "$8": u.mobile,
                            "$9": u.extension, "$10": u.role, "$11": u.registered, "$12": u.source,
                            "$13": u.active, "$14": u.restricted_manager, "$15": u.created_at,
                            "$16": u.modified_at, "$17": u.modified_by, "$18": u.display_name.to_lowercase(),
                            "$19": u.email.to_lowercase(),
                        },
                    )?;
                    tx.execute(
                        "INSERT INTO scim_users (user_id, account_id, user_name, user_name_key, external_id, \
                         work_phone, mobile, document, version, created_at, modified_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
                        named_params! {
                            "$1": u.id, "$2": account, "$3": c.user_name, "$4": c.user_name.to_lowercase(),
                            "$5": c.external_id, "$6": c.work_phone, "$7": c.mobile, "$8": c.document,
                            "$9": u.created_at,
                        },
                    )?;
                }
                Some(version) => {
                    let n = tx.execute(
                        "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, \
                         work_phone = $6, mobile = $7, document = $8, version = version + 1, modified_at = $9 \
                         WHERE account_id = $1 AND user_id = $2 AND version = $10",
                        named_params! {
                            "$1": account, "$2": u.id, "$3": c.user_name, "$4": c.user_name.to_lowercase(),
                            "$5": c.external_id, "$6": c.work_phone, "$7": c.mobile, "$8": c.document,
                            "$9": u.modified_at, "$10": version,
                        },
                    )?;
                    if n == 0 {
                        return Ok(Saved::Stale);
                    }
                    tx.execute(
                        "UPDATE users SET first_name = $3, last_name = $4, display_name = $5, name_key = $6, \
                         email = $7, email_key = $8, login_id = $9, mobile = $10, extension = $11, role = $12, \
                         registered = $13, active = $14, restricted_manager = $15, modified_at = $16, \
                         modified_by = $17 WHERE account_id = $1 AND id = $2",
                        named_params! {
                            "$1": account, "$2": u.id, "$3": u.first_name, "$4": u.last_name,
                            "$5": u.display_name, "$6": u.display_name.to_lowercase(), "$7": u.email,
                            "$8": u.email.to_lowercase(), "$9": u.login_id, "$10": u.mobile, "$11": u.extension,
                            "$12": u.role, "$13": u.registered, "$14": u.active, "$15": u.restricted_manager,
                            "$16": u.modified_at, "$17": u.modified_by,
                        },
                    )?;
                }
            }
            if s.deactivate {
                tx.execute(
                    "DELETE FROM sessions WHERE account_id = $1 AND user_id = $2",
                    named_params! { "$1": account, "$2": u.id },
                )?;
                tx.execute(
                    "UPDATE oauth_grants SET revoked_at = $3 WHERE account_id = $1 AND user_id = $2 \
                     AND revoked_at IS NULL",
                    named_params! { "$1": account, "$2": u.id, "$3": u.modified_at },
                )?;
            }
            let e = &event;
            tx.execute(
                &format!(
                    "INSERT INTO events ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14)"
                ),
                named_params! {
                    "$1": e.id, "$2": e.account_id, "$3": e.occurred_at, "$4": e.actor_kind, "$5": e.actor_id,
                    "$6": e.actor_name, "$7": e.action, "$8": e.event_type, "$9": e.asset, "$10": e.asset_id,
                    "$11": e.properties_changed, "$12": e.core_details, "$13": e.extra_details, "$14": e.tags,
                },
            )?;
            for tag in &tags {
                tx.execute(
                    "INSERT INTO event_tags (event_id, account_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    named_params! { "$1": e.id, "$2": e.account_id, "$3": tag },
                )?;
            }
            Ok(Saved::Done)
        })
        .await;
    match out {
        Some(r) => r,
        None => Err(StoreError::corrupt("not a SQLite store")),
    }
}
