//! Durable background jobs: one row per job with its progress, claimed by one node at a time under a lease.
//!
//! A worker claims a due job ([`claim`]), which bumps `attempts`; that number is the claim's fencing token:
//! every later write of the worker ([`hold`], [`progress`], [`finish`], [`release`]) names it and changes
//! nothing once another node has taken the job over (the lease ran out) or it was cancelled. The worker writes
//! each chunk of work and the progress it made in one transaction, so a job resumed after a crash continues
//! from the last committed position and never does an item twice.
//!
//! A job's input list (the selected user ids, say) is kept as its items, one row each, rather than in
//! `params`: progress updates rewrite the job's row, and should not rewrite 50,000 ids every time.

use skybridge_domain::job::{AllUsers, JobState};
use skybridge_domain::policy::AccountScope;

use crate::sql::{Sql, fetch_dyn};
use crate::users::UserRow;
use crate::{Backend, Exec, Result, Store, Tx, on_conn};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    /// The account the job works on.
    pub account_id: String,
    /// The user who created it; the job acts as this user.
    pub created_by: String,
    /// That user's own account (a partner's staff work in customer accounts).
    pub created_by_account: String,
    /// A [`JobKind`](skybridge_domain::job::JobKind) name.
    pub kind: String,
    /// The kind's parameters, JSON.
    pub params: String,
    /// A [`JobState`] name.
    pub state: String,
    pub total: i64,
    /// Items done.
    pub done: i64,
    /// Items skipped, each with its reason in `result`.
    pub failed: i64,
    /// Where the job stands, as its handler writes it (the last item done); `None` before the first chunk.
    pub position: Option<String>,
    /// The handler's record of what happened (for the bulk user actions: why each skipped user was skipped).
    pub result: Option<String>,
    /// The one-line outcome, once finished.
    pub summary: Option<String>,
    /// Why the job failed as a whole.
    pub error: Option<String>,
    /// Claims so far; the current claim's fencing token.
    pub attempts: i64,
    /// When the job is next due: its creation for a queued job, the end of the lease for a running one.
    pub lease_until: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl JobRow {
    pub fn state(&self) -> Option<JobState> {
        self.state.parse().ok()
    }
}

const COLUMNS: &str = "id, account_id, created_by, created_by_account, kind, params, state, total, done, \
    failed, position, result, summary, error, attempts, lease_until, created_at, started_at, finished_at";

/// Inserts a new job with its items (numbered from 1), in the caller's transaction so that the job and the
/// audit event of its creation commit together.
pub async fn insert(
    tx: &mut Tx,
    scope: &AccountScope,
    job: &JobRow,
    items: &[String],
) -> Result<()> {
    let account = scope.account_id().to_string();
    let j = job.clone();
    let sql = format!(
        "INSERT INTO jobs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19)"
    );
    on_conn!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(j.id.clone())
        .bind(account.clone())
        .bind(j.created_by.clone())
        .bind(j.created_by_account.clone())
        .bind(j.kind.clone())
        .bind(j.params.clone())
        .bind(j.state.clone())
        .bind(j.total)
        .bind(j.done)
        .bind(j.failed)
        .bind(j.position.clone())
        .bind(j.result.clone())
        .bind(j.summary.clone())
        .bind(j.error.clone())
        .bind(j.attempts)
        .bind(j.lease_until)
        .bind(j.created_at)
        .bind(j.started_at)
        .bind(j.finished_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    let per = crate::sql::rows_per_statement(tx, 3);
    for (n, chunk) in items.chunks(per).enumerate() {
        let mut sql = Sql::new("INSERT INTO job_items (job_id, seq, item) VALUES ");
        for (i, item) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let seq = (n * per + i + 1) as i64;
            sql.push("(")
                .arg(job.id.clone())
                .push(", ")
                .arg(seq)
                .push(", ")
                .arg(item.clone())
                .push(")");
        }
        on_conn!(tx, |c| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
            crate::sql::bind_args!(q, sql.args.clone())
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

pub async fn get(db: &mut impl Exec, scope: &AccountScope, id: &str) -> Result<Option<JobRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM jobs WHERE account_id = "));
    sql.arg(scope.account_id().to_string())
        .push(" AND id = ")
        .arg(id.to_string());
    Ok(fetch_dyn!(db, sql, JobRow, fetch_optional)?)
}

/// The account a job works on and who created it: all `/api/v1/jobs/{id}` learns before the policy decides
/// whether the caller may see the job (which it then reads with [`get`]).
pub async fn owner(db: &mut impl Exec, id: &str) -> Result<Option<(String, String)>> {
    let id = id.to_string();
    Ok(on_conn!(db, |c| sqlx::query_as::<_, (String, String)>(
        "SELECT account_id, created_by FROM jobs WHERE id = $1"
    )
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs this user created.
    pub created_by: Option<String>,
    /// Only jobs in one of these states (any when empty).
    pub states: Vec<JobState>,
}

/// An account's jobs, newest first, after the cursor `(created_at, id)`.
pub async fn list(
    db: &mut impl Exec,
    scope: &AccountScope,
    filter: &JobFilter,
    before: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<JobRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM jobs WHERE account_id = "));
    sql.arg(scope.account_id().to_string());
    if let Some(user) = &filter.created_by {
        sql.push(" AND created_by = ").arg(user.clone());
    }
    if !filter.states.is_empty() {
        sql.push(" AND state IN (");
        for (i, s) in filter.states.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(s.as_str());
        }
        sql.push(")");
    }
    if let Some((at, id)) = before {
        sql.push(" AND (created_at < ")
            .arg(at)
            .push(" OR (created_at = ")
            .arg(at)
            .push(" AND id < ")
            .arg(id)
            .push("))");
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .arg(limit);
    Ok(fetch_dyn!(db, sql, JobRow, fetch_all)?)
}

/// `AND kind IN (…)` for the kinds a node runs: a node never claims a kind only a newer version knows.
fn of_kinds(sql: &mut Sql, kinds: &[&str]) {
    sql.push(" AND kind IN (");
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(k.to_string());
    }
    sql.push(")");
}

/// Takes one due job of `kinds` for this node until `lease_until`, or `None` when nothing is due. Due: queued
/// (and its `lease_until`, the time it waits for, passed), or running under a lease that ran out (its node died
/// or gave it back). Oldest due first. Atomic: on
/// PostgreSQL the row is locked with `SKIP LOCKED`, so nodes claiming at once take different jobs; SQLite has a
/// single writer, and the claim is one statement.
pub async fn claim(
    store: &Store,
    now: i64,
    lease_until: i64,
    kinds: &[&str],
) -> Result<Option<JobRow>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    // A plain read first: workers poll every second, and on SQLite a write transaction would take the
    // database's only write lock each time even when nothing is due.
    {
        let mut db = store.handle().await?;
        let mut sql = Sql::new(
            "SELECT id FROM jobs WHERE state IN ('queued', 'running') AND lease_until <= ",
        );
        sql.arg(now);
        of_kinds(&mut sql, kinds);
        sql.push(" LIMIT 1");
        #[derive(sqlx::FromRow)]
        struct Due(#[allow(dead_code)] String);
        if fetch_dyn!(&mut db, sql, Due, fetch_optional)?.is_none() {
            return Ok(None);
        }
    }
    let lock = if store.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let mut sql =
        Sql::new("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ");
    sql.arg(lease_until)
        .push(", started_at = COALESCE(started_at, ")
        .arg(now)
        .push(") WHERE id = (SELECT id FROM jobs WHERE state IN ('queued', 'running') AND lease_until <= ")
        .arg(now);
    of_kinds(&mut sql, kinds);
    sql.push(" ORDER BY lease_until, id LIMIT 1")
        .push(lock)
        .push(&format!(") RETURNING {COLUMNS}"));
    let mut tx = store.begin().await?;
    let row = fetch_dyn!(&mut tx, sql, JobRow, fetch_optional)?;
    tx.commit().await?;
    Ok(row)
}

/// The first statement of a chunk's transaction: extends the lease if the claim `attempt` still holds the
/// running job. `false` when it does not (cancelled, or taken over by another node): roll back and stop. On
/// PostgreSQL this also locks the row until the chunk commits, so a cancel waits for the chunk in flight.
pub async fn hold(
    tx: &mut Tx,
    scope: &AccountScope,
    id: &str,
    attempt: i64,
    lease_until: i64,
) -> Result<bool> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE jobs SET lease_until = $4 WHERE account_id = $1 AND id = $2 AND attempts = $3 \
         AND state = 'running'"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(attempt)
    .bind(lease_until)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Where a job stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub position: Option<String>,
    pub result: Option<String>,
}

impl Progress {
    pub fn of(job: &JobRow) -> Progress {
        Progress {
            total: job.total,
            done: job.done,
            failed: job.failed,
            position: job.position.clone(),
            result: job.result.clone(),
        }
    }
}

/// Records the progress of a chunk, in the chunk's transaction. `false` when the claim no longer holds.
pub async fn progress(
    tx: &mut Tx,
    scope: &AccountScope,
    id: &str,
    attempt: i64,
    p: &Progress,
) -> Result<bool> {
    let (account, id, p) = (scope.account_id().to_string(), id.to_string(), p.clone());
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE jobs SET total = $4, done = $5, failed = $6, position = $7, result = $8 \
         WHERE account_id = $1 AND id = $2 AND attempts = $3 AND state = 'running'"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(attempt)
    .bind(p.total)
    .bind(p.done)
    .bind(p.failed)
    .bind(p.position.clone())
    .bind(p.result.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Ends a running job as `state` (succeeded or failed) with its summary and error, and drops its items.
/// `false` when the claim no longer holds.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    tx: &mut Tx,
    scope: &AccountScope,
    id: &str,
    attempt: i64,
    state: JobState,
    summary: &str,
    error: Option<&str>,
    now: i64,
) -> Result<bool> {
    let (account, id, summary, error) = (
        scope.account_id().to_string(),
        id.to_string(),
        summary.to_string(),
        error.map(str::to_string),
    );
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE jobs SET state = $4, summary = $5, error = $6, finished_at = $7, lease_until = $7 \
         WHERE account_id = $1 AND id = $2 AND attempts = $3 AND state = 'running'"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(attempt)
    .bind(state.as_str())
    .bind(summary.clone())
    .bind(error.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    if n > 0 {
        drop_items(tx, &id).await?;
    }
    Ok(n > 0)
}

/// Gives a running job back to the queue, due again at `due` (a node shutting down: at once; after a
/// failure: later). Its progress stays. `false` when the claim no longer holds.
pub async fn release(
    store: &Store,
    scope: &AccountScope,
    id: &str,
    attempt: i64,
    due: i64,
    error: Option<&str>,
) -> Result<bool> {
    let (account, id, error) = (
        scope.account_id().to_string(),
        id.to_string(),
        error.map(str::to_string),
    );
    let mut tx = store.begin().await?;
    let n = on_conn!(&mut tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'queued', lease_until = $4, error = $5 \
         WHERE account_id = $1 AND id = $2 AND attempts = $3 AND state = 'running'"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(attempt)
    .bind(due)
    .bind(error.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(n > 0)
}

/// Cancels a queued or running job; the job as it stands afterwards, or `None` when it is not the account's
/// or already finished. A worker running it notices at its next chunk (its claim no longer holds).
pub async fn cancel(
    tx: &mut Tx,
    scope: &AccountScope,
    id: &str,
    now: i64,
) -> Result<Option<JobRow>> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    let sql = format!(
        "UPDATE jobs SET state = 'cancelled', finished_at = $3, lease_until = $3 \
         WHERE account_id = $1 AND id = $2 AND state IN ('queued', 'running') RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, JobRow>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(account.clone())
    .bind(id.clone())
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?;
    if row.is_some() {
        drop_items(tx, &id).await?;
    }
    Ok(row)
}

/// Sets the summary of a job (a cancelled one, which no worker finishes).
pub async fn set_summary(tx: &mut Tx, scope: &AccountScope, id: &str, summary: &str) -> Result<()> {
    let (account, id, summary) = (
        scope.account_id().to_string(),
        id.to_string(),
        summary.to_string(),
    );
    on_conn!(tx, |c| sqlx::query(
        "UPDATE jobs SET summary = $3 WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(summary.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

async fn drop_items(tx: &mut Tx, id: &str) -> Result<()> {
    let id = id.to_string();
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM job_items WHERE job_id = $1"
    )
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The next `limit` items of a job after item number `after`, in order.
pub async fn items(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, String)>> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    Ok(on_conn!(db, |c| sqlx::query_as::<_, (i64, String)>(
        "SELECT i.seq, i.item FROM job_items i JOIN jobs j ON j.id = i.job_id \
         WHERE j.account_id = $1 AND i.job_id = $2 AND i.seq > $3 ORDER BY i.seq LIMIT $4"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *c)
    .await)?)
}

/// Makes every running job due at `now`, whatever its lease says; returns how many. For a node that starts on a
/// store no other node can share (SQLite): a job still running there was its own, cut off when it stopped, and
/// waiting out the lease would only leave it standing still.
pub async fn resume_orphans(store: &Store, now: i64) -> Result<u64> {
    let mut tx = store.begin().await?;
    let n = on_conn!(&mut tx, |c| {
        sqlx::query("UPDATE jobs SET lease_until = $1 WHERE state = 'running' AND lease_until > $1")
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(n)
}

/// Deletes finished jobs that ended before `before`; returns how many.
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64> {
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "DELETE FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1"
    )
    .bind(before)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n)
}

// --- the users a bulk user action walks -------------------------------------------------------------------

fn all_users_where(sql: &mut Sql, scope: &AccountScope, all: AllUsers, until: i64) {
    sql.push(" WHERE account_id = ")
        .arg(scope.account_id().to_string())
        .push(" AND created_at <= ")
        .arg(until);
    if !all.include_inactive {
        sql.push(" AND active = ").arg(true);
    }
    if all.only_unregistered {
        sql.push(" AND registered = ").arg(false);
    }
}

/// How many users "all users" selects: those of the account created no later than `until` (the job's
/// creation), narrowed as `all` says.
pub async fn count_users(
    db: &mut impl Exec,
    scope: &AccountScope,
    all: AllUsers,
    until: i64,
) -> Result<i64> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM users");
    all_users_where(&mut sql, scope, all, until);
    #[derive(sqlx::FromRow)]
    struct Count(i64);
    Ok(fetch_dyn!(db, sql, Count, fetch_one)?.0)
}

/// The next `limit` of those users after the id `after`, in id order: an order that deleting the users
/// already walked does not disturb.
pub async fn users_page(
    db: &mut impl Exec,
    scope: &AccountScope,
    all: AllUsers,
    until: i64,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UserRow>> {
    let mut sql = Sql::new(&format!("SELECT {} FROM users", crate::users::COLUMNS));
    all_users_where(&mut sql, scope, all, until);
    if let Some(after) = after {
        sql.push(" AND id > ").arg(after.to_string());
    }
    sql.push(" ORDER BY id LIMIT ").arg(limit);
    Ok(fetch_dyn!(db, sql, UserRow, fetch_all)?)
}

/// The account's users among `ids` (those that exist), in no particular order.
pub async fn users_by_id(
    db: &mut impl Exec,
    scope: &AccountScope,
    ids: &[String],
) -> Result<Vec<UserRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!(
        "SELECT {} FROM users WHERE account_id = ",
        crate::users::COLUMNS
    ));
    sql.arg(scope.account_id().to_string()).push(" AND id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(id.clone());
    }
    sql.push(")");
    Ok(fetch_dyn!(db, sql, UserRow, fetch_all)?)
}
