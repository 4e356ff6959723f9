//! Event history: an append-only log per account, written in the transaction of the change it records.

use skybridge_domain::EventId;
use skybridge_domain::event::{Actor, NewEvent};
use skybridge_domain::policy::AccountScope;

use crate::sql::{Sql, fetch_dyn};
use crate::{Exec, Result, Store, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub account_id: String,
    pub occurred_at: i64,
    pub actor_id: String,
    pub actor_name: String,
    pub action: String,
    pub event_type: String,
    pub asset: String,
    pub asset_id: String,
    pub properties_changed: String,
    pub core_details: String,
    pub extra_details: Option<String>,
    pub tags: String,
}

/// The actor's name as recorded, or "Unknown" once the user it names is gone. Resolved with a LEFT JOIN on the
/// users' primary key (not NOT EXISTS: PostgreSQL turns that into a hash of the whole users table per query).
const COLUMNS: &str = "e.id, e.account_id, e.occurred_at, e.actor_id, \
    CASE WHEN e.actor_kind = 'user' AND u.id IS NULL THEN 'Unknown' ELSE e.actor_name END AS actor_name, \
    e.action, e.event_type, e.asset, e.asset_id, e.properties_changed, e.core_details, e.extra_details, e.tags";

const FROM: &str = " FROM events e LEFT JOIN users u ON u.id = e.actor_id";

/// An event's row, ready to bind.
#[derive(Debug, Clone)]
pub struct EventValues {
    pub id: String,
    pub account_id: String,
    pub occurred_at: i64,
    pub actor_kind: &'static str,
    pub actor_id: String,
    pub actor_name: String,
    pub action: &'static str,
    pub event_type: &'static str,
    pub asset: &'static str,
    pub asset_id: String,
    pub properties_changed: String,
    pub core_details: String,
    pub extra_details: Option<String>,
    pub tags: String,
}

/// The columns of an event, in the order [`EventValues`] binds them.
pub const INSERT_COLUMNS: &str = "id, account_id, occurred_at, actor_kind, actor_id, actor_name, action, \
     event_type, asset, asset_id, properties_changed, core_details, extra_details, tags";

impl EventValues {
    pub fn new(event: &NewEvent, actor_name: &str, now: i64) -> EventValues {
        let (kind, actor_name) = match &event.actor {
            Actor::User(_) => ("user", actor_name.to_string()),
            Actor::System => ("system", "System".to_string()),
            Actor::Scim => ("scim", "SCIM".to_string()),
        };
        EventValues {
            id: EventId::new().to_string(),
            account_id: event.account_id.to_string(),
            occurred_at: now,
            actor_kind: kind,
            actor_id: event.actor.id(),
            actor_name,
            action: event.action.as_str(),
            event_type: event.event_type.as_str(),
            asset: event.asset,
            asset_id: event.asset_id.clone(),
            properties_changed: serde_json::Value::from(event.properties_changed.clone())
                .to_string(),
            core_details: serde_json::Value::Object(event.core_details.clone()).to_string(),
            extra_details: event.extra_details.as_ref().map(|v| v.to_string()),
            tags: serde_json::Value::from(event.tags.clone()).to_string(),
        }
    }
}

/// Appends an event. `actor_name` is the actor's display name at the time of the event.
pub async fn insert(tx: &mut Tx, event: &NewEvent, actor_name: &str, now: i64) -> Result<EventId> {
    let v = EventValues::new(event, actor_name, now);
    let id: EventId = v.id.parse().map_err(StoreError::corrupt)?;
    let (sid, account) = (v.id.clone(), v.account_id.clone());
    let sql = format!(
        "INSERT INTO events ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    on_conn!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(v.id.clone())
            .bind(v.account_id.clone())
            .bind(v.occurred_at)
            .bind(v.actor_kind)
            .bind(v.actor_id.clone())
            .bind(v.actor_name.clone())
            .bind(v.action)
            .bind(v.event_type)
            .bind(v.asset)
            .bind(v.asset_id.clone())
            .bind(v.properties_changed.clone())
            .bind(v.core_details.clone())
            .bind(v.extra_details.clone())
            .bind(v.tags.clone())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    if !event.tags.is_empty() {
        // All tags in one statement: every audited write pays for this.
        let mut sql =
            crate::sql::Sql::new("INSERT INTO event_tags (event_id, account_id, tag) VALUES ");
        for (i, tag) in event.tags.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(")
                .arg(sid.clone())
                .push(", ")
                .arg(account.clone())
                .push(", ")
                .arg(tag.clone())
                .push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
        on_conn!(tx, |c| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
            crate::sql::bind_args!(q, sql.args.clone())
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(id)
}

/// The filters of the Event History page; they combine with AND, values within one filter with OR.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub ids: Vec<String>,
    pub assets: Vec<String>,
    pub actions: Vec<String>,
    pub event_types: Vec<String>,
    pub actor_id: Option<String>,
    /// Inclusive lower bound, microseconds.
    pub from: Option<i64>,
    /// Inclusive upper bound, microseconds.
    pub to: Option<i64>,
    /// Every tag must be present.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Asset,
    Action,
    EventType,
}

fn where_clause(sql: &mut Sql, scope: &AccountScope, f: &EventFilter, skip: Option<Dimension>) {
    sql.push(" WHERE e.account_id = ")
        .arg(scope.account_id().to_string());
    let any_of = |sql: &mut Sql, column: &str, values: &[String]| {
        if values.is_empty() {
            return;
        }
        sql.push(" AND ").push(column).push(" IN (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(v.clone());
        }
        sql.push(")");
    };
    any_of(sql, "e.id", &f.ids);
    if skip != Some(Dimension::Asset) {
        any_of(sql, "e.asset", &f.assets);
    }
    if skip != Some(Dimension::Action) {
        any_of(sql, "e.action", &f.actions);
    }
    if skip != Some(Dimension::EventType) {
        any_of(sql, "e.event_type", &f.event_types);
    }
    if let Some(actor) = &f.actor_id {
        sql.push(" AND e.actor_id = ").arg(actor.clone());
    }
    if let Some(from) = f.from {
        sql.push(" AND e.occurred_at >= ").arg(from);
    }
    if let Some(to) = f.to {
        sql.push(" AND e.occurred_at <= ").arg(to);
    }
    for tag in &f.tags {
        sql.push(" AND EXISTS (SELECT 1 FROM event_tags t WHERE t.event_id = e.id AND t.tag = ")
            .arg(tag.clone())
            .push(")");
    }
}

/// Appends many events (and their tags) in a few statements: a bulk operation's audit trail, e.g. an import
/// committing a hundred users, at the cost of one write rather than a hundred.
pub async fn insert_many(
    tx: &mut Tx,
    events: &[NewEvent],
    actor_name: &str,
    now: i64,
) -> Result<()> {
    // Two tags an event on average: the tag statement binds no more than the event statement.
    let per = crate::sql::rows_per_statement(tx, 14);
    for batch in events.chunks(per) {
        let mut sql =
            crate::sql::Sql::new(&format!("INSERT INTO events ({INSERT_COLUMNS}) VALUES "));
        let mut tags =
            crate::sql::Sql::new("INSERT INTO event_tags (event_id, account_id, tag) VALUES ");
        let mut any_tag = false;
        for (i, event) in batch.iter().enumerate() {
            let v = EventValues::new(event, actor_name, now);
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.arg(v.id.clone()).push(", ");
            sql.arg(v.account_id.clone()).push(", ");
            sql.arg(v.occurred_at).push(", ");
            sql.arg(v.actor_kind).push(", ");
            sql.arg(v.actor_id.clone()).push(", ");
            sql.arg(v.actor_name.clone()).push(", ");
            sql.arg(v.action).push(", ");
            sql.arg(v.event_type).push(", ");
            sql.arg(v.asset).push(", ");
            sql.arg(v.asset_id.clone()).push(", ");
            sql.arg(v.properties_changed.clone()).push(", ");
            sql.arg(v.core_details.clone()).push(", ");
            match &v.extra_details {
                Some(x) => sql.arg(x.clone()),
                None => sql.push("NULL"),
            };
            sql.push(", ").arg(v.tags.clone()).push(")");
            for tag in &event.tags {
                tags.push(if any_tag { ", (" } else { "(" })
                    .arg(v.id.clone())
                    .push(", ")
                    .arg(v.account_id.clone())
                    .push(", ")
                    .arg(tag.clone())
                    .push(")");
                any_tag = true;
            }
        }
        tags.push(" ON CONFLICT DO NOTHING");
        for (statement, run) in [(sql, true), (tags, any_tag)] {
            if !run {
                continue;
            }
            on_conn!(tx, |c| {
                let q = sqlx::query(sqlx::AssertSqlSafe(statement.text.clone()));
                crate::sql::bind_args!(q, statement.args.clone())
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected())
            })?;
        }
    }
    Ok(())
}

/// A page of events in date order after the cursor (occurred_at, id).
pub async fn query(
    db: &mut impl Exec,
    scope: &AccountScope,
    filter: &EventFilter,
    order: Order,
    after: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<EventRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS}{FROM}"));
    where_clause(&mut sql, scope, filter, None);
    let (cmp, dir) = match order {
        Order::NewestFirst => ("<", "DESC"),
        Order::OldestFirst => (">", "ASC"),
    };
    // Row-value comparison: both SQLite and PostgreSQL turn it into an index range scan, so every page
    // (and every export batch) costs the same however deep it is.
    if let Some((at, id)) = after {
        sql.push(" AND (e.occurred_at, e.id) ")
            .push(cmp)
            .push(" (")
            .arg(at)
            .push(", ")
            .arg(id)
            .push(")");
    }
    sql.push(&format!(" ORDER BY e.occurred_at {dir}, e.id {dir} LIMIT "))
        .arg(limit);
    Ok(fetch_dyn!(db, sql, EventRow, fetch_all)?)
}

pub async fn get(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: EventId,
) -> Result<Option<EventRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS}{FROM}"));
    where_clause(
        &mut sql,
        scope,
        &EventFilter {
            ids: vec![id.to_string()],
            ..EventFilter::default()
        },
        None,
    );
    Ok(fetch_dyn!(db, sql, EventRow, fetch_optional)?)
}

/// For each filter dimension, the values (with counts) still possible given the other active filters.
#[derive(Debug, Clone, Default)]
pub struct Facets {
    pub assets: Vec<(String, i64)>,
    pub actions: Vec<(String, i64)>,
    pub event_types: Vec<(String, i64)>,
}

pub async fn facets(
    db: &mut impl Exec,
    scope: &AccountScope,
    filter: &EventFilter,
) -> Result<Facets> {
    let mut out = Facets::default();
    for (dim, column) in [
        (Dimension::Asset, "e.asset"),
        (Dimension::Action, "e.action"),
        (Dimension::EventType, "e.event_type"),
    ] {
        let mut sql = Sql::new(&format!("SELECT {column}, COUNT(*) FROM events e"));
        where_clause(&mut sql, scope, filter, Some(dim));
        sql.push(&format!(" GROUP BY {column} ORDER BY {column}"));
        let rows: Vec<(String, i64)> = fetch_dyn!(db, sql, (String, i64), fetch_all)?;
        match dim {
            Dimension::Asset => out.assets = rows,
            Dimension::Action => out.actions = rows,
            Dimension::EventType => out.event_types = rows,
        }
    }
    Ok(out)
}

/// Every event matching the filter, in order, from one streaming
/// query (one statement, not one per page: the per-query cost would dominate a million-row export), sent
/// to `out` in batches of `batch` rows. Stops early when the receiver is gone.
pub async fn stream(
    db: &mut impl Exec,
    scope: &AccountScope,
    filter: &EventFilter,
    order: Order,
    batch: usize,
    out: tokio::sync::mpsc::Sender<Vec<EventRow>>,
) -> Result<()> {
    use futures_util::TryStreamExt;
    let mut sql = Sql::new(&format!("SELECT {COLUMNS}{FROM}"));
    where_clause(&mut sql, scope, filter, None);
    let dir = match order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    sql.push(&format!(" ORDER BY e.occurred_at {dir}, e.id {dir}"));
    let batch = batch.max(1);
    on_conn!(db, |c| {
        let q = sqlx::query_as::<_, EventRow>(sqlx::AssertSqlSafe(sql.text.clone()));
        let mut rows = crate::sql::bind_args!(q, sql.args.clone()).fetch(&mut *c);
        let mut buf = Vec::with_capacity(batch);
        while let Some(row) = rows.try_next().await? {
            buf.push(row);
            if buf.len() == batch
                && out
                    .send(std::mem::replace(&mut buf, Vec::with_capacity(batch)))
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
        if !buf.is_empty() {
            let _ = out.send(buf).await;
        }
    });
    Ok(())
}

/// [`stream`] on whichever backend `store` is. On SQLite the scan runs on a blocking thread with its own
/// read-only connection stepping one statement: sqlx hands each row from its worker thread to the async task
/// one at a time, which made a million-row export mostly thread wake-ups; here rows cross threads only in
/// batches.
pub async fn stream_store(
    store: &Store,
    scope: &AccountScope,
    filter: &EventFilter,
    order: Order,
    batch: usize,
    out: tokio::sync::mpsc::Sender<Vec<EventRow>>,
) -> Result<()> {
    let Store::Sqlite(pool, _) = store else {
        let mut db = store.handle().await?;
        return stream(&mut db, scope, filter, order, batch, out).await;
    };
    let path = pool.connect_options().get_filename().to_path_buf();
    let mut sql = Sql::new(&format!("SELECT {COLUMNS}{FROM}"));
    where_clause(&mut sql, scope, filter, None);
    let dir = match order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    sql.push(&format!(" ORDER BY e.occurred_at {dir}, e.id {dir}"));
    let batch = batch.max(1);
    tokio::task::spawn_blocking(move || scan_sqlite(&path, &sql, batch, &out))
        .await
        .map_err(|e| StoreError::Corrupt(format!("export scan: {e}")))?
}

fn scan_sqlite(
    path: &std::path::Path,
    sql: &Sql,
    batch: usize,
    out: &tokio::sync::mpsc::Sender<Vec<EventRow>>,
) -> Result<()> {
    use rusqlite::{OpenFlags, params_from_iter, types::Value};
    let err = |e: rusqlite::Error| StoreError::Corrupt(format!("export scan: {e}"));
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let mut stmt = conn.prepare(&sql.text).map_err(err)?;
    // `$n` placeholders are numbered in the order they appear, which is the order of the arguments.
    let args = sql.args.iter().map(|a| match a {
        crate::sql::Arg::Text(s) => Value::Text(s.clone()),
        crate::sql::Arg::Int(i) => Value::Integer(*i),
        crate::sql::Arg::Bool(b) => Value::Integer(i64::from(*b)),
    });
    let mut rows = stmt.query(params_from_iter(args)).map_err(err)?;
    let mut buf = Vec::with_capacity(batch);
    while let Some(r) = rows.next().map_err(err)? {
        buf.push(EventRow {
            id: r.get(0).map_err(err)?,
            account_id: r.get(1).map_err(err)?,
            occurred_at: r.get(2).map_err(err)?,
            actor_id: r.get(3).map_err(err)?,
            actor_name: r.get(4).map_err(err)?,
            action: r.get(5).map_err(err)?,
            event_type: r.get(6).map_err(err)?,
            asset: r.get(7).map_err(err)?,
            asset_id: r.get(8).map_err(err)?,
            properties_changed: r.get(9).map_err(err)?,
            core_details: r.get(10).map_err(err)?,
            extra_details: r.get(11).map_err(err)?,
            tags: r.get(12).map_err(err)?,
        });
        if buf.len() == batch
            && out
                .blocking_send(std::mem::replace(&mut buf, Vec::with_capacity(batch)))
                .is_err()
        {
            return Ok(());
        }
    }
    if !buf.is_empty() {
        let _ = out.blocking_send(buf);
    }
    Ok(())
}
