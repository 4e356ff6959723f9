//! Bulk inserts for seeding large data sets (benchmarks, demos). Rows go in as multi-row `INSERT`s,
//! [`ROWS_PER_TX`] rows per transaction, with the same SQL text (`$n` placeholders) on both backends. These
//! bypass the API: no validation, no audit events, no scope checks — the caller is responsible for
//! producing rows that satisfy the schema and the domain's rules.

use crate::accounts::AccountRow;
use crate::sql::{Arg, Sql, bind_args};
use crate::users::UserRow;
use crate::{Backend, Result, Store, Tx, on_conn};

/// Rows per multi-row `INSERT` on PostgreSQL. With at most 25 columns that stays far below its 65,535
/// bound parameters per statement.
pub const ROWS_PER_STATEMENT: usize = 500;

/// Bound parameters per multi-row `INSERT` on SQLite. SQLite resolves each `$n` placeholder by a linear
/// search of the statement's parameter names, both when it parses the statement and when sqlx binds the
/// arguments, so the cost of a statement grows with the square of its parameter count: 500 rows of 14
/// columns spent ~80% of the time in `sqlite3_bind_parameter_name` and `strncmp`, 1,000 parameters still
/// ~45%. A few hundred keep it small (1M events: ~30k rows/s instead of ~4k).
pub const SQLITE_PARAMS_PER_STATEMENT: usize = 250;

/// Rows per transaction.
pub const ROWS_PER_TX: usize = 10_000;

/// Rows per statement for a table of `columns` bound columns.
fn rows_per_statement(backend: Backend, columns: usize) -> usize {
    match backend {
        Backend::Postgres => ROWS_PER_STATEMENT,
        Backend::Sqlite => (SQLITE_PARAMS_PER_STATEMENT / columns.max(1)).max(1),
    }
}

/// An event to seed: an [`EventRow`](crate::events::EventRow) plus what the API derives when it writes one
/// (the actor kind, and the tag list that also goes into `event_tags`).
#[derive(Debug, Clone)]
pub struct SeedEvent {
    pub id: String,
    pub account_id: String,
    pub occurred_at: i64,
    /// `user`, `system` or `scim`.
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_name: String,
    pub action: String,
    pub event_type: String,
    pub asset: String,
    pub asset_id: String,
    /// JSON array of property names.
    pub properties_changed: String,
    /// JSON object.
    pub core_details: String,
    /// JSON, if any.
    pub extra_details: Option<String>,
    /// Written both as the JSON array in `events.tags` and as rows of `event_tags`.
    pub tags: Vec<String>,
}

async fn execute(tx: &mut Tx, sql: Sql) -> Result<u64> {
    Ok(on_conn!(tx, |c| {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
        bind_args!(q, sql.args.clone())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

/// Inserts `rows` in transactions of [`ROWS_PER_TX`], each as multi-row statements built by `statement`
/// for a table of `columns` columns.
async fn bulk<T>(
    store: &Store,
    rows: &[T],
    columns: usize,
    statement: fn(&[T]) -> Sql,
) -> Result<u64> {
    let per_statement = rows_per_statement(store.backend(), columns);
    let mut n = 0;
    for batch in rows.chunks(ROWS_PER_TX) {
        let mut tx = store.begin().await?;
        for chunk in batch.chunks(per_statement) {
            n += execute(&mut tx, statement(chunk)).await?;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// Appends `(`, a placeholder for each value separated by commas (a literal `NULL` for `None`), and `)`.
fn tuple(sql: &mut Sql, first: bool, values: Vec<Option<Arg>>) {
    sql.push(if first { "(" } else { ", (" });
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        match v {
            Some(a) => {
                sql.arg(a);
            }
            None => {
                sql.push("NULL");
            }
        }
    }
    sql.push(")");
}

fn opt(v: &Option<String>) -> Option<Arg> {
    v.clone().map(Arg::from)
}

fn val(v: impl Into<Arg>) -> Option<Arg> {
    Some(v.into())
}

fn accounts_statement(rows: &[AccountRow]) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO accounts (id, number, kind, partner_id, name, name_key, country, province, address, address2, \
         city, postal_code, default_language, business_type, sap_customer_number, cloud_location, pbx_type, status, \
         delegated_authentication, allow_guest_access, bandwidth_optimization, chat_allow_edit_delete, created_at, \
         modified_at, modified_by) VALUES ",
    );
    for (i, r) in rows.iter().enumerate() {
        tuple(
            &mut sql,
            i == 0,
            vec![
                val(r.id.clone()),
                val(r.number),
                val(r.kind.clone()),
                opt(&r.partner_id),
                val(r.name.clone()),
                val(r.name.to_lowercase()),
                val(r.country.clone()),
                val(r.province.clone()),
                val(r.address.clone()),
                opt(&r.address2),
                val(r.city.clone()),
                val(r.postal_code.clone()),
                val(r.default_language.clone()),
                opt(&r.business_type),
                opt(&r.sap_customer_number),
                val(r.cloud_location.clone()),
                opt(&r.pbx_type),
                val(r.status.clone()),
                val(r.delegated_authentication),
                val(r.allow_guest_access),
                val(r.bandwidth_optimization),
                val(r.chat_allow_edit_delete),
                val(r.created_at),
                val(r.modified_at),
                val(r.modified_by.clone()),
            ],
        );
    }
    sql
}

fn users_statement(rows: &[UserRow]) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO users (id, account_id, first_name, last_name, display_name, name_key, email, email_key, \
         login_id, mobile, extension, role, registered, source, active, restricted_manager, created_at, modified_at, \
         modified_by) VALUES ",
    );
    for (i, u) in rows.iter().enumerate() {
        tuple(
            &mut sql,
            i == 0,
            vec![
                val(u.id.clone()),
                val(u.account_id.clone()),
                opt(&u.first_name),
                opt(&u.last_name),
                val(u.display_name.clone()),
                val(u.display_name.to_lowercase()),
                val(u.email.clone()),
                val(u.email.to_lowercase()),
                opt(&u.login_id),
                opt(&u.mobile),
                opt(&u.extension),
                val(u.role.clone()),
                val(u.registered),
                val(u.source.clone()),
                val(u.active),
                val(u.restricted_manager),
                val(u.created_at),
                val(u.modified_at),
                val(u.modified_by.clone()),
            ],
        );
    }
    sql
}

fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

fn events_statement(rows: &[SeedEvent]) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO events (id, account_id, occurred_at, actor_kind, actor_id, actor_name, action, event_type, asset, \
         asset_id, properties_changed, core_details, extra_details, tags) VALUES ",
    );
    for (i, e) in rows.iter().enumerate() {
        tuple(
            &mut sql,
            i == 0,
            vec![
                val(e.id.clone()),
                val(e.account_id.clone()),
                val(e.occurred_at),
                val(e.actor_kind.clone()),
                val(e.actor_id.clone()),
                val(e.actor_name.clone()),
                val(e.action.clone()),
                val(e.event_type.clone()),
                val(e.asset.clone()),
                val(e.asset_id.clone()),
                val(e.properties_changed.clone()),
                val(e.core_details.clone()),
                opt(&e.extra_details),
                val(tags_json(&e.tags)),
            ],
        );
    }
    sql
}

/// `(event_id, account_id, tag)`.
type TagRow = (String, String, String);

fn tags_statement(rows: &[TagRow]) -> Sql {
    let mut sql = Sql::new("INSERT INTO event_tags (event_id, account_id, tag) VALUES ");
    for (i, (event, account, tag)) in rows.iter().enumerate() {
        tuple(
            &mut sql,
            i == 0,
            vec![val(event.clone()), val(account.clone()), val(tag.clone())],
        );
    }
    sql.push(" ON CONFLICT DO NOTHING");
    sql
}

/// Inserts accounts (`name_key` is derived from `name`). Returns the number of rows inserted.
pub async fn accounts(store: &Store, rows: &[AccountRow]) -> Result<u64> {
    bulk(store, rows, 25, accounts_statement).await
}

/// Inserts users (`name_key` and `email_key` are derived from `display_name` and `email`). Returns the
/// number of rows inserted.
pub async fn users(store: &Store, rows: &[UserRow]) -> Result<u64> {
    bulk(store, rows, 19, users_statement).await
}

/// Inserts events and their `event_tags` rows, in the same transactions. Returns the number of events
/// inserted.
pub async fn events(store: &Store, rows: &[SeedEvent]) -> Result<u64> {
    let (per_event, per_tag) = (
        rows_per_statement(store.backend(), 14),
        rows_per_statement(store.backend(), 3),
    );
    let mut n = 0;
    for batch in rows.chunks(ROWS_PER_TX) {
        let mut tx = store.begin().await?;
        for chunk in batch.chunks(per_event) {
            n += execute(&mut tx, events_statement(chunk)).await?;
        }
        let tags: Vec<TagRow> = batch
            .iter()
            .flat_map(|e| {
                e.tags
                    .iter()
                    .map(|t| (e.id.clone(), e.account_id.clone(), t.clone()))
            })
            .collect();
        for chunk in tags.chunks(per_tag) {
            execute(&mut tx, tags_statement(chunk)).await?;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// Brings a freshly bulk-loaded database to the state it reaches on its own soon after. On PostgreSQL,
/// `VACUUM ANALYZE`, which autovacuum runs after a large insert (visibility map, hint bits, planner
/// statistics). On SQLite, a WAL checkpoint, which the automatic checkpoint does; SQLite's planner
/// statistics (`ANALYZE`) are left as the application leaves them, that is, absent.
pub async fn settle(store: &Store) -> Result<()> {
    let sql = match store.backend() {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    let mut h = store.handle().await?;
    on_conn!(&mut h, |c| sqlx::query(sql)
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    Ok(())
}
