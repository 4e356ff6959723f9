//! Staged bulk imports of users: the rows of an uploaded sheet, with their problems, until committed or
//! cancelled. Every query names the account, so a stage is only ever reached through its own tenant.

use skybridge_domain::policy::AccountScope;

use crate::sql::{Sql, bind_args, fetch_dyn};
use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ImportRow {
    pub id: String,
    pub account_id: String,
    pub created_by: String,
    pub file_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub next_line: i64,
    pub job_id: Option<String>,
    pub created: i64,
}

/// One staged row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StagedRow {
    pub line: i64,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub email_key: Option<String>,
    pub formulas: String,
    /// JSON list of issues.
    pub issues: String,
    pub valid: bool,
}

const ROW_COLUMNS: &str =
    "line, first_name, last_name, name, email, role, email_key, formulas, issues, valid";

/// `SELECT` of a stage's rows, scoped to its account; callers add their conditions.
fn select_rows(scope: &AccountScope, import: &str) -> Sql {
    let mut sql = Sql::new(&format!(
        "SELECT {ROW_COLUMNS} FROM import_rows WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" AND import_id = ")
        .arg(import);
    sql
}

pub async fn create(tx: &mut Tx, scope: &AccountScope, import: &ImportRow) -> Result<()> {
    let (i, account) = (import.clone(), scope.account_id().to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO imports (id, account_id, created_by, file_name, created_at, expires_at, next_line, job_id, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0)"
    )
    .bind(i.id.clone())
    .bind(account.clone())
    .bind(i.created_by.clone())
    .bind(i.file_name.clone())
    .bind(i.created_at)
    .bind(i.expires_at)
    .bind(i.next_line)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Adds rows to a stage (many per statement: a 50,000-row sheet is 50 statements, not 50,000).
pub async fn insert_rows(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    rows: &[StagedRow],
) -> Result<()> {
    let per = crate::sql::rows_per_statement(tx, 12);
    for batch in rows.chunks(per) {
        let mut sql = Sql::new(&format!(
            "INSERT INTO import_rows (import_id, account_id, {ROW_COLUMNS}) VALUES "
        ));
        for (n, r) in batch.iter().enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            sql.arg(import).push(", ");
            sql.arg(scope.account_id().to_string()).push(", ");
            sql.arg(r.line).push(", ");
            sql.arg(r.first_name.clone()).push(", ");
            sql.arg(r.last_name.clone()).push(", ");
            sql.arg(r.name.clone()).push(", ");
            sql.arg(r.email.clone()).push(", ");
            sql.arg(r.role.clone()).push(", ");
            match &r.email_key {
                Some(k) => sql.arg(k.clone()),
                None => sql.push("NULL"),
            };
            sql.push(", ");
            sql.arg(r.formulas.clone()).push(", ");
            sql.arg(r.issues.clone()).push(", ");
            sql.arg(r.valid).push(")");
        }
        execute(tx, sql).await?;
    }
    Ok(())
}

async fn execute(db: &mut impl Exec, sql: Sql) -> Result<u64> {
    Ok(on_conn!(db, |c| {
        let q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
        bind_args!(q, sql.args.clone())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?)
}

const IMPORT_COLUMNS: &str =
    "id, account_id, created_by, file_name, created_at, expires_at, next_line, job_id, created";

/// A live (unexpired) stage of the account.
pub async fn get(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: &str,
    now: i64,
) -> Result<Option<ImportRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {IMPORT_COLUMNS} FROM imports WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" AND id = ")
        .arg(id)
        .push(" AND expires_at > ")
        .arg(now);
    Ok(fetch_dyn!(db, sql, ImportRow, fetch_optional)?)
}

/// Locks a live stage for the rest of the transaction, so that the changes to one import (edits, which check
/// the rows sharing an e-mail; commits and their chunks) happen one after another. On PostgreSQL the no-op
/// update takes the stage's row lock (its read-committed transactions would otherwise each miss the other's
/// row: two rows given one address at once both stayed valid); SQLite's write transactions are serial anyway.
/// Whether the stage exists.
pub async fn lock(tx: &mut Tx, scope: &AccountScope, id: &str, now: i64) -> Result<bool> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE imports SET next_line = next_line WHERE account_id = $1 AND id = $2 AND expires_at > $3"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// The account's live stages, newest first.
pub async fn list(db: &mut impl Exec, scope: &AccountScope, now: i64) -> Result<Vec<ImportRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {IMPORT_COLUMNS} FROM imports WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" AND expires_at > ")
        .arg(now)
        .push(" ORDER BY created_at DESC, id DESC LIMIT 50");
    Ok(fetch_dyn!(db, sql, ImportRow, fetch_all)?)
}

/// Rows in line order after `after_line`; only the invalid ones when `invalid_only`.
pub async fn rows(
    db: &mut impl Exec,
    scope: &AccountScope,
    import: &str,
    after_line: i64,
    limit: i64,
    invalid_only: bool,
) -> Result<Vec<StagedRow>> {
    let mut sql = select_rows(scope, import);
    sql.push(" AND line > ").arg(after_line);
    if invalid_only {
        sql.push(" AND valid = ").arg(false);
    }
    sql.push(" ORDER BY line LIMIT ").arg(limit);
    Ok(fetch_dyn!(db, sql, StagedRow, fetch_all)?)
}

/// The first `limit` valid rows (what a commit takes next).
pub async fn valid_rows(
    db: &mut impl Exec,
    scope: &AccountScope,
    import: &str,
    limit: i64,
) -> Result<Vec<StagedRow>> {
    let mut sql = select_rows(scope, import);
    sql.push(" AND valid = ")
        .arg(true)
        .push(" ORDER BY line LIMIT ")
        .arg(limit);
    Ok(fetch_dyn!(db, sql, StagedRow, fetch_all)?)
}

/// (rows, invalid rows) of a stage.
pub async fn counts(db: &mut impl Exec, scope: &AccountScope, import: &str) -> Result<(i64, i64)> {
    let (account, import) = (scope.account_id().to_string(), import.to_string());
    let (total, invalid): (i64, Option<i64>) = on_conn!(db, |c| sqlx::query_as(
        "SELECT count(*), sum(CASE WHEN valid THEN 0 ELSE 1 END) FROM import_rows \
         WHERE account_id = $1 AND import_id = $2"
    )
    .bind(account.clone())
    .bind(import.clone())
    .fetch_one(&mut *c)
    .await)?;
    Ok((total, invalid.unwrap_or(0)))
}

pub async fn row(
    db: &mut impl Exec,
    scope: &AccountScope,
    import: &str,
    line: i64,
) -> Result<Option<StagedRow>> {
    let mut sql = select_rows(scope, import);
    sql.push(" AND line = ").arg(line);
    Ok(fetch_dyn!(db, sql, StagedRow, fetch_optional)?)
}

/// The rows whose e-mail key is one of `keys`, in line order (those a change of e-mail may collide with).
pub async fn rows_with_keys(
    db: &mut impl Exec,
    scope: &AccountScope,
    import: &str,
    keys: &[String],
) -> Result<Vec<StagedRow>> {
    let mut found = Vec::new();
    let per = crate::sql::rows_per_statement(db, 1);
    for batch in keys.chunks(per) {
        let mut sql = select_rows(scope, import);
        sql.push(" AND email_key IN (");
        for (n, k) in batch.iter().enumerate() {
            if n > 0 {
                sql.push(", ");
            }
            sql.arg(k.clone());
        }
        sql.push(")");
        found.extend(fetch_dyn!(db, sql, StagedRow, fetch_all)?);
    }
    found.sort_by_key(|r| r.line);
    Ok(found)
}

/// Writes a row's values and verdict.
pub async fn update_row(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    r: &StagedRow,
) -> Result<bool> {
    let mut sql = Sql::new("UPDATE import_rows SET first_name = ");
    sql.arg(r.first_name.clone())
        .push(", last_name = ")
        .arg(r.last_name.clone())
        .push(", name = ")
        .arg(r.name.clone())
        .push(", email = ")
        .arg(r.email.clone())
        .push(", role = ")
        .arg(r.role.clone())
        .push(", email_key = ");
    match &r.email_key {
        Some(k) => sql.arg(k.clone()),
        None => sql.push("NULL"),
    };
    sql.push(", formulas = ")
        .arg(r.formulas.clone())
        .push(", issues = ")
        .arg(r.issues.clone())
        .push(", valid = ")
        .arg(r.valid)
        .push(" WHERE account_id = ")
        .arg(scope.account_id().to_string())
        .push(" AND import_id = ")
        .arg(import)
        .push(" AND line = ")
        .arg(r.line);
    Ok(execute(tx, sql).await? == 1)
}

pub async fn delete_row(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    line: i64,
) -> Result<bool> {
    let (account, import) = (scope.account_id().to_string(), import.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM import_rows WHERE account_id = $1 AND import_id = $2 AND line = $3"
    )
    .bind(account.clone())
    .bind(import.clone())
    .bind(line)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Removes the rows at `lines` (a commit's chunk, once their users exist).
pub async fn delete_rows(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    lines: &[i64],
) -> Result<u64> {
    let mut n = 0;
    let per = crate::sql::rows_per_statement(tx, 1);
    for batch in lines.chunks(per) {
        let mut sql = Sql::new("DELETE FROM import_rows WHERE account_id = ");
        sql.arg(scope.account_id().to_string())
            .push(" AND import_id = ")
            .arg(import)
            .push(" AND line IN (");
        for (i, line) in batch.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(*line);
        }
        sql.push(")");
        n += execute(tx, sql).await?;
    }
    Ok(n)
}

/// Takes the next free line number for an added row.
pub async fn take_line(tx: &mut Tx, scope: &AccountScope, import: &str) -> Result<Option<i64>> {
    let (account, import) = (scope.account_id().to_string(), import.to_string());
    Ok(on_conn!(tx, |c| sqlx::query_scalar(
        "UPDATE imports SET next_line = next_line + 1 WHERE account_id = $1 AND id = $2 \
         RETURNING next_line - 1"
    )
    .bind(account.clone())
    .bind(import.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// Records the commit job, and keeps the stage at least `expires_at`: a commit started near the end of the
/// 24 hours must not find its stage purged half-way, its remaining rows gone.
pub async fn set_job(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    job: &str,
    expires_at: i64,
) -> Result<()> {
    let (account, import, job) = (
        scope.account_id().to_string(),
        import.to_string(),
        job.to_string(),
    );
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE imports SET job_id = $3, expires_at = CASE WHEN expires_at < $4 THEN $4 ELSE expires_at END \
         WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(import.clone())
    .bind(job.clone())
    .bind(expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn add_created(tx: &mut Tx, scope: &AccountScope, import: &str, n: i64) -> Result<()> {
    let (account, import) = (scope.account_id().to_string(), import.to_string());
    on_conn!(tx, |c| sqlx::query(
        "UPDATE imports SET created = created + $3 WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(import.clone())
    .bind(n)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Discards a stage and its rows.
pub async fn delete(tx: &mut Tx, scope: &AccountScope, import: &str) -> Result<bool> {
    let (account, import) = (scope.account_id().to_string(), import.to_string());
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM import_rows WHERE account_id = $1 AND import_id = $2"
    )
    .bind(account.clone())
    .bind(import.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM imports WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(import.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Removes stages past their expiry (housekeeping).
pub async fn purge(tx: &mut Tx, now: i64) -> Result<u64> {
    let rows = on_conn!(tx, |c| {
        sqlx::query(
        "DELETE FROM import_rows WHERE import_id IN (SELECT id FROM imports WHERE expires_at <= $1)"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    let stages = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM imports WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(rows + stages)
}

/// Refreshes PostgreSQL's statistics of the staged rows after a big upload, as one does after a bulk load:
/// without them the planner takes a 50,000-row stage for a few dozen rows and sorts all of it for every
/// chunk of a commit. SQLite keeps its own (`statistics::refresh`).
pub async fn analyze(store: &crate::Store) -> Result<()> {
    if store.backend() == crate::Backend::Postgres {
        let mut h = store.handle().await?;
        on_conn!(&mut h, |c| sqlx::query("ANALYZE import_rows")
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}
