//! Authorization codes: single-use, short-lived, stored as SHA-256.

use crate::{Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub account_id: String,
    pub session_hash: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_id: Option<String>,
}

/// Removes codes long past expiry (kept a while after use so that a replay can still be recognised).
pub async fn purge(tx: &mut Tx, before: i64) -> Result<u64> {
    Ok(on_conn!(tx, |c| sqlx::query(
        "DELETE FROM oauth_codes WHERE expires_at < $1"
    )
    .bind(before)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?)
}

/// A code with its user, read without a lock, and whether the user and the account are active.
#[derive(Debug, Clone)]
pub struct Found {
    pub code: CodeRow,
    pub user: crate::users::UserRow,
    pub subject_active: bool,
}

/// The code and its user in one query, for checking a redemption before anything is written.
pub async fn find(db: &mut impl crate::Exec, code_hash: &str) -> Result<Option<Found>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: crate::users::UserRow,
        c_client_id: String,
        c_session_hash: Option<String>,
        c_redirect_uri: String,
        c_scope: String,
        c_nonce: Option<String>,
        c_code_challenge: Option<String>,
        c_auth_time: i64,
        c_amr: String,
        c_expires_at: i64,
        c_used_at: Option<i64>,
        c_grant_id: Option<String>,
        subject_active: bool,
    }
    let h = code_hash.to_string();
    let sql = format!(
        "SELECT {cols}, c.client_id AS c_client_id, c.session_hash AS c_session_hash, \
         c.redirect_uri AS c_redirect_uri, c.scope AS c_scope, c.nonce AS c_nonce, \
         c.code_challenge AS c_code_challenge, c.auth_time AS c_auth_time, c.amr AS c_amr, \
         c.expires_at AS c_expires_at, c.used_at AS c_used_at, c.grant_id AS c_grant_id, \
         (u.active AND a.status = 'active') AS subject_active \
         FROM oauth_codes c JOIN users u ON u.id = c.user_id JOIN accounts a ON a.id = c.account_id \
         WHERE c.code_hash = $1",
        cols = crate::users::columns_of("u")
    );
    let row: Option<Row> = on_conn!(db, |c| sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(h.clone())
    .fetch_optional(&mut *c)
    .await)?;
    Ok(row.map(|r| Found {
        code: CodeRow {
            code_hash: code_hash.to_string(),
            client_id: r.c_client_id,
            user_id: r.user.id.clone(),
            account_id: r.user.account_id.clone(),
            session_hash: r.c_session_hash,
            redirect_uri: r.c_redirect_uri,
            scope: r.c_scope,
            nonce: r.c_nonce,
            code_challenge: r.c_code_challenge,
            auth_time: r.c_auth_time,
            amr: r.c_amr,
            expires_at: r.c_expires_at,
            used_at: r.c_used_at,
            grant_id: r.c_grant_id,
        },
        user: r.user,
        subject_active: r.subject_active,
    }))
}

/// Redeems a code for `grant`: marks the code used (only if it still is not), stores the grant and, when
/// given, its first refresh token — atomically, in one statement on PostgreSQL and one transaction on
/// SQLite. False when the code was used meanwhile (nothing is then written).
pub async fn redeem(
    store: &crate::Store,
    code_hash: &str,
    grant: &crate::oauth::grants::GrantRow,
    refresh_hash: Option<&str>,
) -> Result<bool> {
    let (h, g, r) = (
        code_hash.to_string(),
        grant.clone(),
        refresh_hash.map(str::to_string),
    );
    match store {
        crate::Store::Postgres(pool) => {
            let n: i64 = sqlx::query_scalar(
                "WITH used AS (UPDATE oauth_codes SET used_at = $2, grant_id = $3 \
                 WHERE code_hash = $1 AND used_at IS NULL RETURNING code_hash), \
                 g AS (INSERT INTO oauth_grants (id, client_id, user_id, account_id, session_hash, scope, auth_time, \
                 amr, created_at, expires_at, revoked_at) SELECT $3, $4, $5, $6, $7, $8, $9, $10, $2, $11, NULL FROM used), \
                 r AS (INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
                 SELECT $12::text, $3, $2, $11, NULL FROM used WHERE $12::text IS NOT NULL) \
                 SELECT COUNT(*) FROM used",
            )
            .bind(h)
            .bind(g.created_at)
            .bind(g.id)
            .bind(g.client_id)
            .bind(g.user_id)
            .bind(g.account_id)
            .bind(g.session_hash)
            .bind(g.scope)
            .bind(g.auth_time)
            .bind(g.amr)
            .bind(g.expires_at)
            .bind(r)
            .fetch_one(pool)
            .await?;
            Ok(n == 1)
        }
        crate::Store::Sqlite(..) => store
            .sqlite_write(move |tx| {
                let used = tx.prepare_cached("UPDATE oauth_codes SET used_at = $2, grant_id = $3 WHERE code_hash = $1 AND used_at IS NULL")?.execute(rusqlite::named_params! { "$1": h, "$2": g.created_at, "$3": g.id },
                )?;
                if used != 1 {
                    return Ok(false);
                }
                tx.prepare_cached("INSERT INTO oauth_grants (id, client_id, user_id, account_id, session_hash, scope, auth_time, amr, \
                     created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)")?.execute(rusqlite::params![
                        g.id, g.client_id, g.user_id, g.account_id, g.session_hash, g.scope, g.auth_time, g.amr,
                        g.created_at, g.expires_at
                    ],
                )?;
                if let Some(r) = r {
                    tx.prepare_cached("INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
                         VALUES ($1, $2, $3, $4, NULL)")?.execute(rusqlite::params![r, g.id, g.created_at, g.expires_at],
                    )?;
                }
                Ok(true)
            })
            .await
            .unwrap_or(Ok(false)),
    }
}

/// Stores a new code outside any other transaction: one statement on PostgreSQL, one queued blocking
/// write on SQLite.
pub async fn insert_now(store: &crate::Store, r: &CodeRow) -> Result<()> {
    let r = r.clone();
    match store {
        crate::Store::Postgres(pool) => {
            sqlx::query(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, account_id, session_hash, redirect_uri, scope, \
                 nonce, code_challenge, auth_time, amr, expires_at, used_at, grant_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL)",
            )
            .bind(r.code_hash)
            .bind(r.client_id)
            .bind(r.user_id)
            .bind(r.account_id)
            .bind(r.session_hash)
            .bind(r.redirect_uri)
            .bind(r.scope)
            .bind(r.nonce)
            .bind(r.code_challenge)
            .bind(r.auth_time)
            .bind(r.amr)
            .bind(r.expires_at)
            .execute(pool)
            .await?;
            Ok(())
        }
        crate::Store::Sqlite(..) => store
            .sqlite_write(move |tx| {
                tx.prepare_cached("INSERT INTO oauth_codes (code_hash, client_id, user_id, account_id, session_hash, redirect_uri, \
                     scope, nonce, code_challenge, auth_time, amr, expires_at, used_at, grant_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL)")?.execute(rusqlite::params![
                        r.code_hash, r.client_id, r.user_id, r.account_id, r.session_hash, r.redirect_uri, r.scope,
                        r.nonce, r.code_challenge, r.auth_time, r.amr, r.expires_at
                    ],
                )?;
                Ok(())
            })
            .await
            .unwrap_or(Ok(())),
    }
}
