//! The durable mail outbox: mail is enqueued in the transaction of the change that causes it and delivered
//! by a worker, with retries.

use skybridge_domain::policy::AccountScope;

use crate::sql::{Sql, fetch_dyn};
use crate::{Backend, Exec, Result, Store, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRow {
    pub id: String,
    pub account_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "id, account_id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, \
    next_attempt_at, last_error, created_at, sent_at";

pub async fn enqueue(tx: &mut Tx, scope: &AccountScope, m: &MailRow) -> Result<()> {
    let m = m.clone();
    let account = scope.account_id().to_string();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO mail_outbox (id, account_id, user_id, kind, recipient, subject, body_text, body_html, status, \
         attempts, next_attempt_at, last_error, created_at, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, NULL, $10, NULL)"
    )
    .bind(m.id.clone())
    .bind(account.clone())
    .bind(m.user_id.clone())
    .bind(m.kind.clone())
    .bind(m.recipient.clone())
    .bind(m.subject.clone())
    .bind(m.body_text.clone())
    .bind(m.body_html.clone())
    .bind(m.next_attempt_at)
    .bind(m.created_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Claims up to `limit` due mails for delivery by pushing their next attempt `lease` microseconds ahead, so
/// that another node (or a crash) cannot deliver them twice at once; PostgreSQL skips rows another node holds.
pub async fn claim_due(store: &Store, now: i64, lease: i64, limit: i64) -> Result<Vec<MailRow>> {
    let mut tx = store.begin().await?;
    let lock = if store.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= "
    ));
    sql.arg(now)
        .push(" ORDER BY next_attempt_at, id LIMIT ")
        .arg(limit)
        .push(lock);
    let rows: Vec<MailRow> = fetch_dyn!(&mut tx, sql, MailRow, fetch_all)?;
    for r in &rows {
        let id = r.id.clone();
        on_conn!(&mut tx, |c| sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $2 WHERE id = $1"
        )
        .bind(id.clone())
        .bind(now + lease)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    Ok(rows)
}

pub async fn mark_sent(store: &Store, id: &str, now: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    let id = id.to_string();
    on_conn!(&mut tx, |c| {
        sqlx::query(
        "UPDATE mail_outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1"
    )
    .bind(id.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    tx.commit().await
}

/// Records a failed attempt: retry at `retry_at`, or give up (`retry_at` = None) and mark it failed.
pub async fn mark_failed_attempt(
    tx: &mut Tx,
    id: &str,
    error: &str,
    retry_at: Option<i64>,
) -> Result<()> {
    let (id, error) = (id.to_string(), error.to_string());
    let (status, next) = match retry_at {
        Some(at) => ("pending", at),
        None => ("failed", 0),
    };
    on_conn!(tx, |c| sqlx::query(
        "UPDATE mail_outbox SET status = $2, attempts = attempts + 1, last_error = $3, \
         next_attempt_at = CASE WHEN $2 = 'pending' THEN $4 ELSE next_attempt_at END WHERE id = $1"
    )
    .bind(id.clone())
    .bind(status)
    .bind(error.clone())
    .bind(next)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Mail of one account, newest first.
pub async fn list(db: &mut impl Exec, scope: &AccountScope, limit: i64) -> Result<Vec<MailRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM mail_outbox WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .arg(limit);
    Ok(fetch_dyn!(db, sql, MailRow, fetch_all)?)
}

/// All mail, newest first — for the operator's `skybridge outbox` command, which reads the store directly.
pub async fn list_all(db: &mut impl Exec, limit: i64) -> Result<Vec<MailRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT "
    ));
    sql.arg(limit);
    Ok(fetch_dyn!(db, sql, MailRow, fetch_all)?)
}

pub async fn get_any(db: &mut impl Exec, id: &str) -> Result<Option<MailRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = "));
    sql.arg(id.to_string());
    Ok(fetch_dyn!(db, sql, MailRow, fetch_optional)?)
}

/// Mail of a Partner Account and its customer accounts, newest first: the embedded-mode outbox page.
pub async fn list_for_partner(
    db: &mut impl Exec,
    partner: &AccountScope,
    limit: i64,
) -> Result<Vec<MailRow>> {
    let cols = COLUMNS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = Sql::new(&format!(
        "SELECT {cols} FROM mail_outbox m JOIN accounts a ON a.id = m.account_id WHERE (a.id = "
    ));
    let id = partner.account_id().to_string();
    sql.arg(id.clone())
        .push(" OR a.partner_id = ")
        .arg(id)
        .push(") AND a.status <> 'deleted' ORDER BY m.created_at DESC, m.id DESC LIMIT ")
        .arg(limit);
    Ok(fetch_dyn!(db, sql, MailRow, fetch_all)?)
}
