//! Users of an account.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;
use skybridge_domain::user::PropertyFilter;

use crate::error::on_unique;
use crate::sql::{Sql, fetch_dyn};
use crate::{Exec, Result, StoreError, Tx, like_escape, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub account_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub email: String,
    pub login_id: Option<String>,
    pub mobile: Option<String>,
    pub extension: Option<String>,
    pub role: String,
    pub registered: bool,
    pub source: String,
    pub active: bool,
    pub restricted_manager: bool,
    pub created_at: i64,
    pub modified_at: i64,
    pub modified_by: String,
}

pub(crate) const COLUMNS: &str = "id, account_id, first_name, last_name, display_name, email, login_id, mobile, \
    extension, role, registered, source, active, restricted_manager, created_at, modified_at, modified_by";

/// [`COLUMNS`] qualified with a table alias, for queries that join users to other tables.
pub(crate) fn columns_of(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl UserRow {
    pub fn user_id(&self) -> Result<UserId> {
        self.id.parse().map_err(StoreError::corrupt)
    }
}

const DUPLICATE: &str = "a user with this email in the account";

pub async fn insert(tx: &mut Tx, scope: &AccountScope, u: &UserRow) -> Result<()> {
    let account = scope.account_id().to_string();
    let sql = format!(
        "INSERT INTO users ({COLUMNS}, name_key, email_key) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)"
    );
    let u = u.clone();
    on_conn!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(u.id.clone())
        .bind(account.clone())
        .bind(u.first_name.clone())
        .bind(u.last_name.clone())
        .bind(u.display_name.clone())
        .bind(u.email.clone())
        .bind(u.login_id.clone())
        .bind(u.mobile.clone())
        .bind(u.extension.clone())
        .bind(u.role.clone())
        .bind(u.registered)
        .bind(u.source.clone())
        .bind(u.active)
        .bind(u.restricted_manager)
        .bind(u.created_at)
        .bind(u.modified_at)
        .bind(u.modified_by.clone())
        .bind(u.display_name.to_lowercase())
        .bind(u.email.to_lowercase())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    Ok(())
}

/// Inserts many users of the account in one statement per 500 (a bulk import's chunk). A taken e-mail fails
/// the whole statement, as [`insert`] fails for one.
pub async fn insert_many(tx: &mut Tx, scope: &AccountScope, users: &[UserRow]) -> Result<()> {
    let account = scope.account_id().to_string();
    let per = crate::sql::rows_per_statement(tx, 19);
    for batch in users.chunks(per) {
        let mut sql = Sql::new(&format!(
            "INSERT INTO users ({COLUMNS}, name_key, email_key) VALUES "
        ));
        for (i, u) in batch.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.arg(u.id.clone()).push(", ");
            sql.arg(account.clone()).push(", ");
            opt_arg(&mut sql, &u.first_name).push(", ");
            opt_arg(&mut sql, &u.last_name).push(", ");
            sql.arg(u.display_name.clone()).push(", ");
            sql.arg(u.email.clone()).push(", ");
            opt_arg(&mut sql, &u.login_id).push(", ");
            opt_arg(&mut sql, &u.mobile).push(", ");
            opt_arg(&mut sql, &u.extension).push(", ");
            sql.arg(u.role.clone()).push(", ");
            sql.arg(u.registered).push(", ");
            sql.arg(u.source.clone()).push(", ");
            sql.arg(u.active).push(", ");
            sql.arg(u.restricted_manager).push(", ");
            sql.arg(u.created_at).push(", ");
            sql.arg(u.modified_at).push(", ");
            sql.arg(u.modified_by.clone()).push(", ");
            sql.arg(u.display_name.to_lowercase()).push(", ");
            sql.arg(u.email.to_lowercase()).push(")");
        }
        on_conn!(tx, |c| {
            let q = sqlx::query(sqlx::AssertSqlSafe(sql.text.clone()));
            crate::sql::bind_args!(q, sql.args.clone())
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(on_unique(DUPLICATE))?;
    }
    Ok(())
}

fn opt_arg<'a>(sql: &'a mut Sql, v: &Option<String>) -> &'a mut Sql {
    match v {
        Some(v) => sql.arg(v.clone()),
        None => sql.push("NULL"),
    }
}

pub async fn update(tx: &mut Tx, scope: &AccountScope, u: &UserRow) -> Result<()> {
    let account = scope.account_id().to_string();
    let u = u.clone();
    on_conn!(tx, |c| sqlx::query(
        "UPDATE users SET first_name = $3, last_name = $4, display_name = $5, name_key = $6, email = $7, \
         email_key = $8, login_id = $9, mobile = $10, extension = $11, role = $12, registered = $13, active = $14, \
         restricted_manager = $15, modified_at = $16, modified_by = $17 WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(u.id.clone())
    .bind(u.first_name.clone())
    .bind(u.last_name.clone())
    .bind(u.display_name.clone())
    .bind(u.display_name.to_lowercase())
    .bind(u.email.clone())
    .bind(u.email.to_lowercase())
    .bind(u.login_id.clone())
    .bind(u.mobile.clone())
    .bind(u.extension.clone())
    .bind(u.role.clone())
    .bind(u.registered)
    .bind(u.active)
    .bind(u.restricted_manager)
    .bind(u.modified_at)
    .bind(u.modified_by.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    Ok(())
}

/// Takes away every credential a user holds, for good: browser sessions, the grants (and with them the
/// tokens) of the OpenID Connect provider, and API tokens. Deactivation calls this, so reactivating the user
/// restores none of them. (The SCIM save does the same within its own statement; see `scim::save`.)
pub async fn revoke_access(tx: &mut Tx, scope: &AccountScope, id: UserId, now: i64) -> Result<()> {
    crate::sessions::delete_for_user(tx, scope, id).await?;
    crate::oauth::grants::revoke_for_user(tx, scope, id, now).await?;
    crate::tokens::delete_for_user(tx, scope, id).await?;
    Ok(())
}

pub async fn get(db: &mut impl Exec, scope: &AccountScope, id: UserId) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE account_id = $1 AND id = $2");
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    Ok(on_conn!(db, |c| sqlx::query_as::<_, UserRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(account.clone())
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// Deletes a user with everything that hangs off it (tokens, manager assignments, support-contact entries).
pub async fn delete(tx: &mut Tx, scope: &AccountScope, id: UserId) -> Result<bool> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    for sql in [
        "DELETE FROM api_tokens WHERE user_id = $2 AND account_id = $1",
        "DELETE FROM manager_accounts WHERE user_id = $2 AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND account_id = $1)",
        "DELETE FROM support_contacts WHERE user_id = $2 AND EXISTS (SELECT 1 FROM users WHERE id = $2 AND account_id = $1)",
    ] {
        on_conn!(tx, |c| sqlx::query(sql)
            .bind(account.clone())
            .bind(id.clone())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM users WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Case-insensitive substring of the display name, first or last name, e-mail, or a prefix of the extension.
    pub q: Option<String>,
    pub property: Option<PropertyFilter>,
    /// Only users holding this role key.
    pub role: Option<String>,
}

/// Users in name order after `after` (name key, id).
pub async fn list(
    db: &mut impl Exec,
    scope: &AccountScope,
    filter: &UserFilter,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<Vec<UserRow>> {
    // Two phases: the page's ids, then the rows. The ids come from the covering index `users_search` (every
    // column the filters read is in it), walked in name order: a filter that matches many users finds a page
    // at once. A search that matches few would walk them all, so it starts from the trigram index instead
    // (migration 0016), whose candidates the exact predicates below then check.
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let narrow = match q {
        Some(q) if q.chars().count() >= TRIGRAM => narrowing(db, &q.to_lowercase()).await?,
        _ => None,
    };
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM users WHERE id IN (SELECT id FROM "
    ));
    match &narrow {
        Some(Narrow::Fts(phrase)) => {
            // CROSS JOIN: SQLite keeps this order, from the few candidates to their users.
            sql.push(
                "users_text_doc d CROSS JOIN users u ON u.id = d.user_id \
                 WHERE d.doc IN (SELECT rowid FROM users_text WHERE users_text MATCH ",
            )
            .arg(phrase.clone())
            .push(") AND ");
        }
        Some(Narrow::Trigram(pattern)) => {
            sql.push("users WHERE search_text LIKE ")
                .arg(pattern.clone())
                .push(" ESCAPE '\\' AND ");
        }
        None => {
            sql.push("users WHERE ");
        }
    }
    sql.push("account_id = ")
        .arg(scope.account_id().to_string());
    if let Some(q) = q {
        let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
        sql.push(" AND (name_key LIKE ")
            .arg(pattern.clone())
            .push(" ESCAPE '\\'");
        sql.push(" OR lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) LIKE ")
            .arg(pattern.clone())
            .push(" ESCAPE '\\'");
        sql.push(" OR email_key LIKE ")
            .arg(pattern)
            .push(" ESCAPE '\\'");
        sql.push(" OR extension LIKE ")
            .arg(format!("{}%", like_escape(q)))
            .push(" ESCAPE '\\')");
    }
    // Inactive users (deactivated, or set inactive by SCIM) are hidden unless the Inactive filter asks for them.
    if filter.property != Some(PropertyFilter::Inactive) {
        sql.push(" AND active = ").arg(true);
    }
    match filter.property {
        None => {}
        Some(PropertyFilter::Admins) => {
            sql.push(" AND role <> 'user'");
        }
        Some(PropertyFilter::Users) => {
            sql.push(" AND role = 'user'");
        }
        Some(PropertyFilter::Registered) => {
            sql.push(" AND registered = ").arg(true);
        }
        Some(PropertyFilter::Unregistered) => {
            sql.push(" AND registered = ").arg(false);
        }
        Some(PropertyFilter::PbxUsers) => {
            sql.push(" AND source = 'pbx'");
        }
        Some(PropertyFilter::MicloudConnected) => {
            sql.push(" AND source = 'micloud_connect'");
        }
        Some(PropertyFilter::Inactive) => {
            sql.push(" AND active = ").arg(false);
        }
    }
    if let Some(role) = &filter.role {
        sql.push(" AND role = ").arg(role.clone());
    }
    if let Some((name_key, id)) = after {
        sql.push(" AND (name_key, id) > (")
            .arg(name_key)
            .push(", ")
            .arg(id)
            .push(")");
    }
    sql.push(" ORDER BY name_key, id LIMIT ")
        .arg(limit)
        .push(") ORDER BY name_key, id");
    Ok(fetch_dyn!(db, sql, UserRow, fetch_all)?)
}

/// The shortest search the trigram index can answer: one trigram.
const TRIGRAM: usize = 3;
/// With fewer trigram candidates than this (in all accounts), a search starts from them; with more, the
/// name-order walk meets a page of matches sooner than it would sort them.
const FEW_CANDIDATES: i64 = 2000;

/// Where a search's candidates come from.
enum Narrow {
    /// SQLite: the FTS5 phrase of the search's trigrams.
    Fts(String),
    /// PostgreSQL: a `LIKE` the `pg_trgm` index answers (the planner weighs it against the name order).
    Trigram(String),
}

async fn narrowing(db: &mut impl Exec, q: &str) -> Result<Option<Narrow>> {
    if matches!(db.conn(), crate::Conn::Postgres(_)) {
        return Ok(Some(Narrow::Trigram(format!("%{}%", like_escape(q)))));
    }
    // An FTS5 string: the trigram tokenizer turns it into consecutive trigrams, i.e. the substring.
    let phrase = format!("\"{}\"", q.replace('"', "\"\""));
    let found: i64 = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM users_text WHERE users_text MATCH $1 LIMIT $2)"
    )
    .bind(phrase.clone())
    .bind(FEW_CANDIDATES)
    .fetch_one(&mut *c)
    .await)?;
    Ok((found < FEW_CANDIDATES).then_some(Narrow::Fts(phrase)))
}

/// Every user of the account, active or not, in id order after `after_id` (the export's pages).
pub async fn export_page(
    db: &mut impl Exec,
    scope: &AccountScope,
    after_id: &str,
    limit: i64,
) -> Result<Vec<UserRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM users WHERE account_id = "));
    sql.arg(scope.account_id().to_string())
        .push(" AND id > ")
        .arg(after_id)
        .push(" ORDER BY id LIMIT ")
        .arg(limit);
    Ok(fetch_dyn!(db, sql, UserRow, fetch_all)?)
}

/// Which of `keys` (lower-cased e-mails) users of the account already hold.
pub async fn taken_email_keys(
    db: &mut impl Exec,
    scope: &AccountScope,
    keys: &[String],
) -> Result<std::collections::HashSet<String>> {
    let mut taken = std::collections::HashSet::new();
    let per = crate::sql::rows_per_statement(db, 1);
    for batch in keys.chunks(per) {
        // Each key must probe the unique (account_id, email_key) index. As `email_key IN (…)`, PostgreSQL
        // without statistics (a new table, before autovacuum's ANALYZE) believed an account holds 52 users and
        // walked all of them, once per batch: an import's commit grew with the square of its rows. A LATERAL
        // lookup with LIMIT 1 cannot be turned into a walk; SQLite, without LATERAL, plans IN lists well.
        let mut sql = Sql::new("");
        if matches!(db.conn(), crate::Conn::Postgres(_)) {
            sql.push("WITH k(key) AS (VALUES ");
            for (n, k) in batch.iter().enumerate() {
                sql.push(if n == 0 { "(" } else { ", (" })
                    .arg(k.clone())
                    .push(")");
            }
            sql.push(
                ") SELECT k.key FROM k CROSS JOIN LATERAL (SELECT 1 FROM users u WHERE u.account_id = ",
            )
            .arg(scope.account_id().to_string())
            .push(" AND u.email_key = k.key LIMIT 1) found");
        } else {
            sql.push("SELECT email_key FROM users WHERE account_id = ")
                .arg(scope.account_id().to_string())
                .push(" AND email_key IN (");
            for (n, k) in batch.iter().enumerate() {
                if n > 0 {
                    sql.push(", ");
                }
                sql.arg(k.clone());
            }
            sql.push(")");
        }
        let found: Vec<(String,)> = fetch_dyn!(db, sql, (String,), fetch_all)?;
        taken.extend(found.into_iter().map(|(k,)| k));
    }
    Ok(taken)
}

/// How many users of the account hold `role`.
pub async fn count_with_role(db: &mut impl Exec, scope: &AccountScope, role: &str) -> Result<i64> {
    let (account, role) = (scope.account_id().to_string(), role.to_string());
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE account_id = $1 AND role = $2"
    )
    .bind(account.clone())
    .bind(role.clone())
    .fetch_one(&mut *c)
    .await)?)
}

/// How many users of any account hold the custom role `role` (for deleting a role).
pub async fn count_holding_role(
    db: &mut impl Exec,
    partner_scope: &AccountScope,
    role: &str,
) -> Result<i64> {
    let (partner, role) = (partner_scope.account_id().to_string(), role.to_string());
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users u JOIN accounts a ON a.id = u.account_id \
         WHERE u.role = $2 AND (a.id = $1 OR a.partner_id = $1)"
    )
    .bind(partner.clone())
    .bind(role.clone())
    .fetch_one(&mut *c)
    .await)?)
}

/// Sets a user's password hash and marks the user registered.
pub async fn set_password(
    tx: &mut Tx,
    scope: &AccountScope,
    id: UserId,
    hash: &str,
    now: i64,
) -> Result<bool> {
    let (account, id, hash) = (
        scope.account_id().to_string(),
        id.to_string(),
        hash.to_string(),
    );
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE users SET password_hash = $3, password_changed_at = $4, registered = $5, modified_at = $4 \
         WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(hash.clone())
    .bind(now)
    .bind(true)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

/// The stored password hash of a user, if it has one.
pub async fn password_hash(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: UserId,
) -> Result<Option<String>> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    let hash: Option<Option<String>> = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT password_hash FROM users WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?;
    Ok(hash.flatten())
}

/// The sign-in path: every user with this e-mail, in any account, with its account's number and status. Not
/// account-scoped, because an e-mail is what a person signing in or asking for a reset types; callers reveal
/// nothing of the result to the anonymous requester.
pub async fn find_by_email(db: &mut impl Exec, email: &str) -> Result<Vec<(UserRow, i64, String)>> {
    let key = email.trim().to_lowercase();
    let sql = format!(
        "SELECT {cols}, a.number AS account_number, a.status AS account_status FROM users u \
         JOIN accounts a ON a.id = u.account_id WHERE u.email_key = $1 ORDER BY a.number",
        cols = crate::users::columns_of("u")
    );
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        user: UserRow,
        account_number: i64,
        account_status: String,
    }
    let rows: Vec<Found> = on_conn!(db, |c| sqlx::query_as::<_, Found>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(key.clone())
    .fetch_all(&mut *c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|f| (f.user, f.account_number, f.account_status))
        .collect())
}

/// What the password step needs about one user an e-mail may sign in as.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub user: UserRow,
    pub account_number: i64,
    pub account_status: String,
    pub password_hash: Option<String>,
    /// A confirmed second factor is enrolled.
    pub mfa: bool,
}

/// [`find_by_email`] with each user's password hash and whether a second factor is on, in one query: the
/// sign-in's password step.
pub async fn sign_in_candidates(db: &mut impl Exec, email: &str) -> Result<Vec<Candidate>> {
    let key = email.trim().to_lowercase();
    let sql = format!(
        "SELECT {cols}, a.number AS account_number, a.status AS account_status, u.password_hash AS stored_hash, \
         (m.enabled_at IS NOT NULL) AS mfa FROM users u JOIN accounts a ON a.id = u.account_id \
         LEFT JOIN user_mfa m ON m.user_id = u.id WHERE u.email_key = $1 ORDER BY a.number",
        cols = crate::users::columns_of("u")
    );
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        user: UserRow,
        account_number: i64,
        account_status: String,
        stored_hash: Option<String>,
        mfa: bool,
    }
    let rows: Vec<Found> = on_conn!(db, |c| sqlx::query_as::<_, Found>(sqlx::AssertSqlSafe(
        sql.clone()
    ))
    .bind(key.clone())
    .fetch_all(&mut *c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|f| Candidate {
            user: f.user,
            account_number: f.account_number,
            account_status: f.account_status,
            password_hash: f.stored_hash,
            mfa: f.mfa,
        })
        .collect())
}
