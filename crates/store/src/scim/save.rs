//! Writing a provisioned user in one transaction: the uniqueness check, the platform row, the SCIM row (with an
//! optimistic version check on update), ending sessions and grants and deleting API tokens on deactivation
//! (what `users::revoke_access` does elsewhere, inlined here to stay one statement), and the audit event.
//!
//! On SQLite the whole write runs as one queued transaction on the writer connection (one thread hand-off
//! instead of one per statement); on PostgreSQL as a transaction of the same statements.

use rusqlite::named_params;
use skybridge_domain::event::NewEvent;
use skybridge_domain::policy::AccountScope;

use super::users::ScimColumns;
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
    /// On update, the platform row as read. Its `modified_at` must still be the row's: an admin's change in
    /// between (a deactivation, a role) makes the write stale instead of being overwritten. Only the columns
    /// that differ from it are written.
    pub previous: Option<UserRow>,
    /// The user goes from active to inactive: sessions end, grants are revoked, API tokens are deleted.
    pub deactivate: bool,
    /// Numbers that must be unique, with the attribute each is reported as.
    pub phones: Vec<(&'static str, String)>,
    /// Whether to check that the unique values (userName, externalId, e-mail, numbers) are free. An update that
    /// leaves them as they were skips it: no other user can have taken a value this one holds.
    pub check_unique: bool,
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

/// The uniqueness check of every SCIM user write (public so that its query plan can be checked).
pub const CONFLICT_SQL: &str = "SELECT \
   EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND user_name_key = $3 AND user_id <> $2) \
     OR EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND login_id = $4 AND id <> $2), \
   EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND external_id = $5 AND user_id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND email_key = $6 AND id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $7 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $7 AND user_id <> $2), \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $8 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $8 AND user_id <> $2)";

/// [`CONFLICT_SQL`] with its answers named a–e, for use as a CTE.
const CONFLICT_SQL_NAMED: &str = "SELECT \
   (EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND user_name_key = $3 AND user_id <> $2) \
     OR EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND login_id = $4 AND id <> $2)) AS a, \
   EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND external_id = $5 AND user_id <> $2) AS b, \
   EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND email_key = $6 AND id <> $2) AS c, \
   (EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $7 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $7 AND user_id <> $2)) AS d, \
   (EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND mobile = $8 AND id <> $2) \
     OR EXISTS (SELECT 1 FROM scim_users WHERE account_id = $1 AND work_phone = $8 AND user_id <> $2)) AS e";

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
        Store::Postgres(pool) => save_pg(pool, scope, s).await,
    }
}

/// The users row columns a create writes, after the conflict check's `$1`–`$8`.
const PG_USER_VALUES: &str = "$9, $1, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, \
     $25, $6";

/// PostgreSQL: the whole write as one statement (atomic on its own), one round trip instead of seven. The
/// conflict check reads the statement's snapshot; the unique indexes stand behind it for writes racing it.
async fn save_pg(pool: &sqlx::PgPool, scope: &AccountScope, s: Save) -> Result<Saved> {
    let account = scope.account_id().to_string();
    let u = &s.user;
    let c = &s.columns;
    let e = EventValues::new(&s.event, &s.actor_name, u.modified_at);
    let except = if s.expected_version.is_some() {
        u.id.clone()
    } else {
        String::new()
    };
    let phone = |i: usize| s.phones.get(i).map(|(_, n)| n.clone());
    let write = match s.expected_version {
        None => format!(
            "iu AS (INSERT INTO users ({COLUMNS}, name_key, email_key) SELECT {PG_USER_VALUES} \
               WHERE NOT (SELECT a OR b OR c OR d OR e FROM conflict) RETURNING id), \
             w AS (INSERT INTO scim_users (user_id, account_id, user_name, user_name_key, external_id, work_phone, \
               mobile, document, version, created_at, modified_at) \
               SELECT id, $1, $4, $3, $5, $26, $27, $28, 1, $22, $22 FROM iu RETURNING user_id)"
        ),
        Some(_) => "w AS (UPDATE scim_users SET user_name = $4, user_name_key = $3, external_id = $5, \
               work_phone = $26, mobile = $27, document = $28, version = version + 1, modified_at = $23 \
               WHERE account_id = $1 AND user_id = $9 AND version = $44 \
               AND EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND id = $9 AND modified_at = $46) \
               AND NOT (SELECT a OR b OR c OR d OR e FROM conflict) RETURNING user_id), \
             uu AS (UPDATE users SET first_name = $10, last_name = $11, display_name = $12, name_key = $25, \
               email = $13, email_key = $6, login_id = $14, mobile = $15, extension = $16, role = $17, \
               registered = $18, active = $20, restricted_manager = $21, modified_at = $23, modified_by = $24 \
               WHERE account_id = $1 AND id IN (SELECT user_id FROM w))"
            .to_string()
            + if s.deactivate {
                ", ds AS (DELETE FROM sessions WHERE $45 AND account_id = $1 AND user_id IN (SELECT user_id FROM w)), \
                 dg AS (UPDATE oauth_grants SET revoked_at = $23 WHERE $45 AND account_id = $1 \
                   AND user_id IN (SELECT user_id FROM w) AND revoked_at IS NULL), \
                 dt AS (DELETE FROM api_tokens WHERE $45 AND account_id = $1 AND user_id IN (SELECT user_id FROM w))"
            } else {
                ""
            },
    };
    // Only what this write needs: planning and starting the unused parts (eight uniqueness probes, the three
    // statements of a deactivation) cost PostgreSQL more than running them.
    let conflict = if s.check_unique {
        CONFLICT_SQL_NAMED
    } else {
        "SELECT false AS a, false AS b, false AS c, false AS d, false AS e"
    };
    let sql = format!(
        "WITH conflict AS ({conflict}), {write}, \
         ev AS (INSERT INTO events ({INSERT_COLUMNS}) SELECT $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, \
           $39, $40, $41, $42 FROM w), \
         tg AS (INSERT INTO event_tags (event_id, account_id, tag) SELECT $29, $30, t FROM w, unnest($43::text[]) t \
           ON CONFLICT DO NOTHING) \
         SELECT (SELECT count(*) FROM w) AS n, a, b, c, d, e FROM conflict"
    );
    let row: (i64, bool, bool, bool, bool, bool) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(account.clone()) // $1
        .bind(except) // $2
        .bind(c.user_name.to_lowercase()) // $3
        .bind(c.user_name.clone()) // $4
        .bind(c.external_id.clone()) // $5
        .bind(u.email.to_lowercase()) // $6
        .bind(phone(0)) // $7
        .bind(phone(1)) // $8
        .bind(u.id.clone()) // $9
        .bind(u.first_name.clone()) // $10
        .bind(u.last_name.clone()) // $11
        .bind(u.display_name.clone()) // $12
        .bind(u.email.clone()) // $13
        .bind(u.login_id.clone()) // $14
        .bind(u.mobile.clone()) // $15
        .bind(u.extension.clone()) // $16
        .bind(u.role.clone()) // $17
        .bind(u.registered) // $18
        .bind(u.source.clone()) // $19
        .bind(u.active) // $20
        .bind(u.restricted_manager) // $21
        .bind(u.created_at) // $22
        .bind(u.modified_at) // $23
        .bind(u.modified_by.clone()) // $24
        .bind(u.display_name.to_lowercase()) // $25
        .bind(c.work_phone.clone()) // $26
        .bind(c.mobile.clone()) // $27
        .bind(c.document.clone()) // $28
        .bind(e.id.clone()) // $29
        .bind(e.account_id.clone()) // $30
        .bind(e.occurred_at) // $31
        .bind(e.actor_kind) // $32
        .bind(e.actor_id.clone()) // $33
        .bind(e.actor_name.clone()) // $34
        .bind(e.action) // $35
        .bind(e.event_type) // $36
        .bind(e.asset) // $37
        .bind(e.asset_id.clone()) // $38
        .bind(e.properties_changed.clone()) // $39
        .bind(e.core_details.clone()) // $40
        .bind(e.extra_details.clone()) // $41
        .bind(e.tags.clone()) // $42
        .bind(s.event.tags.clone()) // $43
        .bind(s.expected_version.unwrap_or(0)) // $44
        .bind(s.deactivate) // $45
        .bind(s.previous.as_ref().map_or(0, |p| p.modified_at)) // $46
        .fetch_one(pool)
        .await
        .map_err(crate::error::on_unique(
            "a user with one of these attribute values in the account",
        ))?;
    let (n, a, b, cc, d, ee) = row;
    if let Some(attr) = first_conflict([a, b, cc, d, ee], &s.phones) {
        return Ok(Saved::Conflict(attr));
    }
    Ok(if n == 1 { Saved::Done } else { Saved::Stale })
}

/// The UPDATE of a platform row that writes only the columns that differ from the row as read, and who changed
/// it when. SQLite rewrites the entry of every index that holds a column named in the SET list, changed or not:
/// naming all of them cost a SCIM PATCH of a title ten index rewrites (75 µs of the writer's time, against 4).
fn changed_columns(
    account: &str,
    u: &UserRow,
    before: &UserRow,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let text = |v: &str| Value::Text(v.to_string());
    let opt = |v: &Option<String>| v.as_ref().map_or(Value::Null, |v| text(v));
    let mut set: Vec<(&str, Value)> = Vec::new();
    if u.first_name != before.first_name {
        set.push(("first_name", opt(&u.first_name)));
    }
    if u.last_name != before.last_name {
        set.push(("last_name", opt(&u.last_name)));
    }
    if u.display_name != before.display_name {
        set.push(("display_name", text(&u.display_name)));
        set.push(("name_key", text(&u.display_name.to_lowercase())));
    }
    if u.email != before.email {
        set.push(("email", text(&u.email)));
        set.push(("email_key", text(&u.email.to_lowercase())));
    }
    if u.login_id != before.login_id {
        set.push(("login_id", opt(&u.login_id)));
    }
    if u.mobile != before.mobile {
        set.push(("mobile", opt(&u.mobile)));
    }
    if u.extension != before.extension {
        set.push(("extension", opt(&u.extension)));
    }
    if u.role != before.role {
        set.push(("role", text(&u.role)));
    }
    if u.registered != before.registered {
        set.push(("registered", Value::Integer(u.registered.into())));
    }
    if u.active != before.active {
        set.push(("active", Value::Integer(u.active.into())));
    }
    if u.restricted_manager != before.restricted_manager {
        set.push((
            "restricted_manager",
            Value::Integer(u.restricted_manager.into()),
        ));
    }
    set.push(("modified_at", Value::Integer(u.modified_at)));
    set.push(("modified_by", text(&u.modified_by)));
    let mut sql = String::from("UPDATE users SET ");
    let mut values = Vec::with_capacity(set.len() + 2);
    for (n, (column, value)) in set.into_iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("{column} = ?{}", n + 1));
        values.push(value);
    }
    sql.push_str(&format!(
        " WHERE account_id = ?{} AND id = ?{}",
        values.len() + 1,
        values.len() + 2
    ));
    values.push(text(account));
    values.push(text(&u.id));
    (sql, values)
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
            if s.check_unique {
                let found: (bool, bool, bool, bool, bool) = tx.prepare_cached(CONFLICT_SQL)?.query_row(named_params! {
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
            }
            match s.expected_version {
                None => {
                    tx.prepare_cached(&format!(
                            "INSERT INTO users ({COLUMNS}, name_key, email_key) VALUES ($1, $2, $3, $4, $5, $6, \
                             $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                        ))?.execute(named_params! {
                            "$1": u.id, "$2": account, "$3": u.first_name, "$4": u.last_name,
                            "$5": u.display_name, "$6": u.email, "$7": u.login_id, "$8": u.mobile,
                            "$9": u.extension, "$10": u.role, "$11": u.registered, "$12": u.source,
                            "$13": u.active, "$14": u.restricted_manager, "$15": u.created_at,
                            "$16": u.modified_at, "$17": u.modified_by, "$18": u.display_name.to_lowercase(),
                            "$19": u.email.to_lowercase(),
                        },
                    )?;
                    tx.prepare_cached("INSERT INTO scim_users (user_id, account_id, user_name, user_name_key, external_id, \
                         work_phone, mobile, document, version, created_at, modified_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)")?.execute(named_params! {
                            "$1": u.id, "$2": account, "$3": c.user_name, "$4": c.user_name.to_lowercase(),
                            "$5": c.external_id, "$6": c.work_phone, "$7": c.mobile, "$8": c.document,
                            "$9": u.created_at,
                        },
                    )?;
                }
                Some(version) => {
                    let platform: Option<i64> = tx
                        .prepare_cached("SELECT modified_at FROM users WHERE account_id = $1 AND id = $2")?
                        .query_row(named_params! { "$1": account, "$2": u.id }, |r| r.get(0))
                        .map(Some)
                        .or_else(|e| match e {
                            rusqlite::Error::QueryReturnedNoRows => Ok(None),
                            e => Err(e),
                        })?;
                    let Some(before) = s.previous.as_ref().filter(|b| platform == Some(b.modified_at)) else {
                        return Ok(Saved::Stale);
                    };
                    let n = tx.prepare_cached("UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, \
                         work_phone = $6, mobile = $7, document = $8, version = version + 1, modified_at = $9 \
                         WHERE account_id = $1 AND user_id = $2 AND version = $10")?.execute(named_params! {
                            "$1": account, "$2": u.id, "$3": c.user_name, "$4": c.user_name.to_lowercase(),
                            "$5": c.external_id, "$6": c.work_phone, "$7": c.mobile, "$8": c.document,
                            "$9": u.modified_at, "$10": version,
                        },
                    )?;
                    if n == 0 {
                        return Ok(Saved::Stale);
                    }
                    let (sql, values) = changed_columns(&account, u, before);
                    tx.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
                }
            }
            if s.deactivate {
                tx.prepare_cached("DELETE FROM sessions WHERE account_id = $1 AND user_id = $2")?.execute(named_params! { "$1": account, "$2": u.id },
                )?;
                tx.prepare_cached("UPDATE oauth_grants SET revoked_at = $3 WHERE account_id = $1 AND user_id = $2 \
                     AND revoked_at IS NULL")?.execute(named_params! { "$1": account, "$2": u.id, "$3": u.modified_at },
                )?;
                tx.prepare_cached("DELETE FROM api_tokens WHERE account_id = $1 AND user_id = $2")?.execute(named_params! { "$1": account, "$2": u.id },
                )?;
            }
            let e = &event;
            tx.prepare_cached(&format!(
                    "INSERT INTO events ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14)"
                ))?.execute(named_params! {
                    "$1": e.id, "$2": e.account_id, "$3": e.occurred_at, "$4": e.actor_kind, "$5": e.actor_id,
                    "$6": e.actor_name, "$7": e.action, "$8": e.event_type, "$9": e.asset, "$10": e.asset_id,
                    "$11": e.properties_changed, "$12": e.core_details, "$13": e.extra_details, "$14": e.tags,
                },
            )?;
            for tag in &tags {
                tx.prepare_cached("INSERT INTO event_tags (event_id, account_id, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")?.execute(named_params! { "$1": e.id, "$2": e.account_id, "$3": tag },
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
