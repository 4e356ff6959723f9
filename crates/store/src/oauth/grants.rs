//! Grants — one sign-in of a user to a client — and their refresh tokens. Each refresh rotates the token;
//! presenting a rotated token again is reuse, and revokes the grant (RFC 9700 §4.14.2).

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub account_id: String,
    pub session_hash: Option<String>,
    pub scope: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// Whether the user and the account are active (read with the grant; not stored).
    pub subject_active: bool,
}

const COLUMNS: &str = "g.id, g.client_id, g.user_id, g.account_id, g.session_hash, g.scope, g.auth_time, g.amr, \
     g.created_at, g.expires_at, g.revoked_at, (u.active AND a.status = 'active') AS subject_active";
/// The grant with its user and account, to tell whether both are still active.
const SUBJECT: &str = "JOIN users u ON u.id = g.user_id JOIN accounts a ON a.id = g.account_id";

pub async fn insert(tx: &mut Tx, g: &GrantRow) -> Result<()> {
    let g = g.clone();
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO oauth_grants (id, client_id, user_id, account_id, session_hash, scope, auth_time, amr, \
         created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)"
    )
    .bind(g.id.clone())
    .bind(g.client_id.clone())
    .bind(g.user_id.clone())
    .bind(g.account_id.clone())
    .bind(g.session_hash.clone())
    .bind(g.scope.clone())
    .bind(g.auth_time)
    .bind(g.amr.clone())
    .bind(g.created_at)
    .bind(g.expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A grant that is neither revoked nor expired.
pub async fn live(db: &mut impl Exec, id: &str, now: i64) -> Result<Option<GrantRow>> {
    let id = id.to_string();
    let sql = format!(
        "SELECT {COLUMNS} FROM oauth_grants g {SUBJECT} WHERE g.id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2"
    );
    Ok(on_conn!(db, |c| sqlx::query_as::<_, GrantRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(id.clone())
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?)
}

pub async fn revoke(tx: &mut Tx, id: &str, now: i64) -> Result<bool> {
    let id = id.to_string();
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
    )
    .bind(id.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Ends every grant of a user (signed out everywhere, password reset, deactivated).
pub async fn revoke_for_user(
    tx: &mut Tx,
    scope: &AccountScope,
    user: UserId,
    now: i64,
) -> Result<u64> {
    let (account, user) = (scope.account_id().to_string(), user.to_string());
    Ok(on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE oauth_grants SET revoked_at = $3 WHERE account_id = $1 AND user_id = $2 AND revoked_at IS NULL"
    )
    .bind(account.clone())
    .bind(user.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?)
}

/// Ends every grant of an account (the account was deactivated).
pub async fn revoke_for_account(tx: &mut Tx, scope: &AccountScope, now: i64) -> Result<u64> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(tx, |c| sqlx::query(
        "UPDATE oauth_grants SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL"
    )
    .bind(account.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// Ends the grants made from one browser session (the user signed out of it).
pub async fn revoke_for_session(tx: &mut Tx, session_hash: &str, now: i64) -> Result<u64> {
    let h = session_hash.to_string();
    Ok(on_conn!(tx, |c| sqlx::query(
        "UPDATE oauth_grants SET revoked_at = $2 WHERE session_hash = $1 AND revoked_at IS NULL"
    )
    .bind(h.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A presented refresh token as the store has it, read without taking the write lock.
#[derive(Debug, Clone)]
pub struct Presented {
    pub grant: GrantRow,
    /// When it was exchanged for its successor; presenting it again is reuse.
    pub used_at: Option<i64>,
    pub expires_at: i64,
}

pub async fn peek_refresh(db: &mut impl Exec, token_hash: &str) -> Result<Option<Presented>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        grant: GrantRow,
        token_used_at: Option<i64>,
        token_expires_at: i64,
    }
    let h = token_hash.to_string();
    let sql = format!(
        "SELECT {COLUMNS}, r.used_at AS token_used_at, r.expires_at AS token_expires_at \
         FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id {SUBJECT} WHERE r.token_hash = $1"
    );
    let row = on_conn!(db, |c| sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(h.clone())
    .fetch_optional(&mut *c)
    .await)?;
    Ok(row.map(|r| Presented {
        grant: r.grant,
        used_at: r.token_used_at,
        expires_at: r.token_expires_at,
    }))
}

/// Rotates a refresh token of `client_id`: consumes `old_hash` and stores `new_hash` under the same grant,
/// atomically, and returns the grant. `None` when the old token was already used, has expired, belongs to
/// another client, or its grant no longer stands — nothing is then written, and of concurrent rotations of
/// one token exactly one succeeds. The hot path of the token endpoint: on PostgreSQL one statement, on
/// SQLite one blocking transaction.
pub async fn rotate_refresh(
    store: &crate::Store,
    old_hash: &str,
    new_hash: &str,
    client_id: &str,
    now: i64,
) -> Result<Option<GrantRow>> {
    const CLAIM: &str = "UPDATE oauth_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         AND expires_at > $2 AND EXISTS (SELECT 1 FROM oauth_grants g WHERE g.id = oauth_refresh_tokens.grant_id \
         AND g.revoked_at IS NULL AND g.expires_at > $2 AND g.client_id = $4)";
    let (old, new, client) = (
        old_hash.to_string(),
        new_hash.to_string(),
        client_id.to_string(),
    );
    match store {
        crate::Store::Postgres(pool) => Ok(sqlx::query_as::<_, GrantRow>(sqlx::AssertSqlSafe(format!(
            "WITH claimed AS ({CLAIM} RETURNING grant_id, expires_at), \
             fresh AS (INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
             SELECT $3, grant_id, $2, expires_at, NULL FROM claimed) \
             SELECT {COLUMNS} FROM claimed JOIN oauth_grants g ON g.id = claimed.grant_id {SUBJECT}"
        )))
        .bind(old)
        .bind(now)
        .bind(new)
        .bind(client)
        .fetch_optional(pool)
        .await?),
        crate::Store::Sqlite(..) => store
            .sqlite_write(move |tx| {
                // By name: SQLite numbers `$n` parameters in order of appearance, not by n.
                let claimed = tx.prepare_cached(CLAIM)?.execute(rusqlite::named_params! { "$1": old, "$2": now, "$4": client },
                )?;
                if claimed != 1 {
                    return Ok(None);
                }
                tx.prepare_cached("INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
                     SELECT $1, grant_id, $2, expires_at, NULL FROM oauth_refresh_tokens WHERE token_hash = $3")?.execute(rusqlite::named_params! { "$1": new, "$2": now, "$3": old },
                )?;
                let sql = format!(
                    "SELECT {COLUMNS} FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id \
                     {SUBJECT} WHERE r.token_hash = $1"
                );
                tx.prepare_cached(&sql)?.query_row(rusqlite::named_params! { "$1": old }, |r| {
                    Ok(GrantRow {
                        id: r.get(0)?,
                        client_id: r.get(1)?,
                        user_id: r.get(2)?,
                        account_id: r.get(3)?,
                        session_hash: r.get(4)?,
                        scope: r.get(5)?,
                        auth_time: r.get(6)?,
                        amr: r.get(7)?,
                        created_at: r.get(8)?,
                        expires_at: r.get(9)?,
                        revoked_at: r.get(10)?,
                        subject_active: r.get(11)?,
                    })
                })
                .map(Some)
            })
            .await
            .unwrap_or(Ok(None)),
    }
}

/// The grant a refresh token belongs to, without consuming it (introspection, revocation).
pub async fn grant_of_refresh(
    db: &mut impl Exec,
    token_hash: &str,
    now: i64,
) -> Result<Option<GrantRow>> {
    let h = token_hash.to_string();
    let sql = format!(
        "SELECT {COLUMNS} FROM oauth_refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id {SUBJECT} \
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND g.revoked_at IS NULL AND g.expires_at > $2"
    );
    Ok(on_conn!(db, |c| sqlx::query_as::<_, GrantRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(h.clone())
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?)
}

/// Revokes an access token that has no grant (client credentials), until it would have expired anyway.
pub async fn revoke_jti(tx: &mut Tx, jti: &str, expires_at: i64) -> Result<()> {
    let j = jti.to_string();
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO oauth_revoked (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING"
    )
    .bind(j.clone())
    .bind(expires_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn jti_revoked(db: &mut impl Exec, jti: &str) -> Result<bool> {
    let j = jti.to_string();
    let n: i64 = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM oauth_revoked WHERE jti = $1"
    )
    .bind(j.clone())
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// Housekeeping: drops expired grants and grants revoked more than a day ago (their refresh tokens
/// cascade; a day outlives any access token), and expired revocations.
pub async fn purge(tx: &mut Tx, now: i64) -> Result<u64> {
    let a = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM oauth_grants WHERE expires_at <= $1 OR revoked_at <= $1 - 86400000000"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    let b = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM oauth_revoked WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(a + b)
}
