//! Registered OAuth clients. A client belongs to one account; a partner-wide client belongs to a Partner
//! Account and serves the users of the partner and of all its customer accounts.
//! Confidential clients have a secret, stored as SHA-256 (it is 256 random bits, so a slow hash adds nothing).

use skybridge_domain::policy::AccountScope;

use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub account_id: String,
    pub partner_wide: bool,
    pub name: String,
    pub confidential: bool,
    pub secret_hash: Option<String>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub id_token_alg: String,
    pub delegation: bool,
    pub created_at: i64,
    /// False when the owning account is deactivated or deleted.
    pub account_active: bool,
}

fn list_of(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(StoreError::corrupt)
}

impl ClientRow {
    pub fn redirect_uris(&self) -> Result<Vec<String>> {
        list_of(&self.redirect_uris)
    }
    pub fn post_logout_redirect_uris(&self) -> Result<Vec<String>> {
        list_of(&self.post_logout_redirect_uris)
    }
    pub fn grant_types(&self) -> Result<Vec<String>> {
        list_of(&self.grant_types)
    }
    pub fn allows(&self, grant_type: &str) -> bool {
        self.grant_types()
            .map(|g| g.iter().any(|t| t == grant_type))
            .unwrap_or(false)
    }
}

const COLUMNS: &str = "c.id, c.account_id, c.partner_wide, c.name, c.confidential, c.secret_hash, c.redirect_uris, \
     c.post_logout_redirect_uris, c.grant_types, c.id_token_alg, c.delegation, c.created_at, \
     (a.status = 'active') AS account_active";
const FROM: &str = "oauth_clients c JOIN accounts a ON a.id = c.account_id";

/// Registers a client of the account in `scope` (`row.partner_wide` for a Partner Account's partner-wide one).
pub async fn insert(tx: &mut Tx, scope: &AccountScope, row: &ClientRow) -> Result<()> {
    let r = row.clone();
    let account = scope.account_id().to_string();
    on_conn!(tx, |c| {
        sqlx::query(
            "INSERT INTO oauth_clients (id, account_id, partner_wide, name, confidential, secret_hash, redirect_uris, \
             post_logout_redirect_uris, grant_types, id_token_alg, delegation, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(r.id.clone())
        .bind(account.clone())
        .bind(r.partner_wide)
        .bind(r.name.clone())
        .bind(r.confidential)
        .bind(r.secret_hash.clone())
        .bind(r.redirect_uris.clone())
        .bind(r.post_logout_redirect_uris.clone())
        .bind(r.grant_types.clone())
        .bind(r.id_token_alg.clone())
        .bind(r.delegation)
        .bind(r.created_at)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })
    .map_err(crate::error::on_unique("client"))?;
    Ok(())
}

/// A client by its public id, for authenticating it; the caller learns its account from the row.
pub async fn find(db: &mut impl Exec, client_id: &str) -> Result<Option<ClientRow>> {
    let id = client_id.to_string();
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1");
    Ok(on_conn!(db, |c| sqlx::query_as::<_, ClientRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// The clients of one account: its own, or (`partner_wide`) a Partner Account's partner-wide ones.
pub async fn list(
    db: &mut impl Exec,
    scope: &AccountScope,
    partner_wide: bool,
) -> Result<Vec<ClientRow>> {
    let account = scope.account_id().to_string();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.account_id = $1 AND c.partner_wide = $2 ORDER BY c.created_at, c.id"
    );
    Ok(on_conn!(db, |c| sqlx::query_as::<_, ClientRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(account.clone())
    .bind(partner_wide)
    .fetch_all(&mut *c)
    .await)?)
}

pub async fn get(
    db: &mut impl Exec,
    scope: &AccountScope,
    partner_wide: bool,
    client_id: &str,
) -> Result<Option<ClientRow>> {
    let (account, id) = (scope.account_id().to_string(), client_id.to_string());
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE c.account_id = $1 AND c.partner_wide = $2 AND c.id = $3"
    );
    Ok(on_conn!(db, |c| sqlx::query_as::<_, ClientRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(account.clone())
    .bind(partner_wide)
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// Deletes a client; its codes, grants and refresh tokens go with it.
pub async fn delete(
    tx: &mut Tx,
    scope: &AccountScope,
    partner_wide: bool,
    client_id: &str,
) -> Result<bool> {
    let (account, id) = (scope.account_id().to_string(), client_id.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM oauth_clients WHERE account_id = $1 AND partner_wide = $2 AND id = $3"
    )
    .bind(account.clone())
    .bind(partner_wide)
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
