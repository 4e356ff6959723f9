//! Custom roles of a Partner Account, and which customer accounts they are assigned to.

use skybridge_domain::RoleId;
use skybridge_domain::policy::AccountScope;

use crate::error::on_unique;
use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRow {
    pub id: String,
    pub partner_id: String,
    pub name: String,
    pub description: Option<String>,
    pub base: String,
    /// JSON array of grant names ("users.view").
    pub permissions: String,
    pub created_at: i64,
    pub modified_at: i64,
}

impl RoleRow {
    pub fn permission_names(&self) -> Result<Vec<String>> {
        serde_json::from_str(&self.permissions).map_err(StoreError::corrupt)
    }
}

const COLUMNS: &str =
    "id, partner_id, name, description, base, permissions, created_at, modified_at";

/// Inserts a role owned by the Partner Account in `scope`.
pub async fn insert(tx: &mut Tx, scope: &AccountScope, r: &RoleRow) -> Result<()> {
    let r = r.clone();
    let partner = scope.account_id().to_string();
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO roles (id, partner_id, name, name_key, description, base, permissions, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )
    .bind(r.id.clone())
    .bind(partner.clone())
    .bind(r.name.clone())
    .bind(r.name.to_lowercase())
    .bind(r.description.clone())
    .bind(r.base.clone())
    .bind(r.permissions.clone())
    .bind(r.created_at)
    .bind(r.modified_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique("a role with this name"))?;
    Ok(())
}

pub async fn update(tx: &mut Tx, scope: &AccountScope, r: &RoleRow) -> Result<()> {
    let r = r.clone();
    let partner = scope.account_id().to_string();
    on_conn!(tx, |c| sqlx::query(
        "UPDATE roles SET name = $3, name_key = $4, description = $5, permissions = $6, modified_at = $7 \
         WHERE partner_id = $1 AND id = $2"
    )
    .bind(partner.clone())
    .bind(r.id.clone())
    .bind(r.name.clone())
    .bind(r.name.to_lowercase())
    .bind(r.description.clone())
    .bind(r.permissions.clone())
    .bind(r.modified_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique("a role with this name"))?;
    Ok(())
}

/// A role of the partner in `scope`.
pub async fn get(db: &mut impl Exec, scope: &AccountScope, id: RoleId) -> Result<Option<RoleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM roles WHERE partner_id = $1 AND id = $2");
    let (partner, id) = (scope.account_id().to_string(), id.to_string());
    Ok(on_conn!(db, |c| sqlx::query_as::<_, RoleRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(partner.clone())
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// A custom role as held by a user of the account in `scope`: the role must belong to that account's partner
/// and, for an Account Admin based role, be assigned to the account.
pub async fn held_in(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: RoleId,
) -> Result<Option<RoleRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM roles r WHERE r.id = $2 AND ( \
           (r.base = 'partner' AND r.partner_id = $1) OR \
           (r.base = 'account_admin' AND EXISTS (SELECT 1 FROM role_accounts ra WHERE ra.role_id = r.id AND ra.account_id = $1)))"
    );
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    Ok(on_conn!(db, |c| sqlx::query_as::<_, RoleRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(account.clone())
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

pub async fn list(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<RoleRow>> {
    let sql = format!("SELECT {COLUMNS} FROM roles WHERE partner_id = $1 ORDER BY name_key, id");
    let partner = scope.account_id().to_string();
    Ok(on_conn!(db, |c| sqlx::query_as::<_, RoleRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(partner.clone())
    .fetch_all(&mut *c)
    .await)?)
}

/// Roles assigned to the customer account in `scope`.
pub async fn assigned_to(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<RoleRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM roles WHERE id IN (SELECT role_id FROM role_accounts WHERE account_id = $1) ORDER BY name_key, id"
    );
    let account = scope.account_id().to_string();
    Ok(on_conn!(db, |c| sqlx::query_as::<_, RoleRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(account.clone())
    .fetch_all(&mut *c)
    .await)?)
}

pub async fn delete(tx: &mut Tx, scope: &AccountScope, id: RoleId) -> Result<bool> {
    let (partner, id) = (scope.account_id().to_string(), id.to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "DELETE FROM role_accounts WHERE role_id = $2 AND EXISTS (SELECT 1 FROM roles WHERE id = $2 AND partner_id = $1)"
    )
    .bind(partner.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM roles WHERE partner_id = $1 AND id = $2"
    )
    .bind(partner.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Accounts a role is assigned to: (account id, name, number, assigned at).
pub async fn accounts_of(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: RoleId,
) -> Result<Vec<(String, String, i64, i64)>> {
    let (partner, id) = (scope.account_id().to_string(), id.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_as(
        "SELECT a.id, a.name, a.number, ra.assigned_at FROM role_accounts ra JOIN accounts a ON a.id = ra.account_id \
         JOIN roles r ON r.id = ra.role_id WHERE r.partner_id = $1 AND ra.role_id = $2 AND a.status <> 'deleted' \
         ORDER BY a.name_key, a.id"
    )
    .bind(partner.clone())
    .bind(id.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}

/// Assigns the role to the account in `account`; returns false if it already was.
pub async fn assign(tx: &mut Tx, role: RoleId, account: &AccountScope, now: i64) -> Result<bool> {
    let (role, account) = (role.to_string(), account.account_id().to_string());
    let n = on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO role_accounts (role_id, account_id, assigned_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(role.clone())
    .bind(account.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n > 0)
}

pub async fn unassign(tx: &mut Tx, role: RoleId, account: &AccountScope) -> Result<bool> {
    let (role, account) = (role.to_string(), account.account_id().to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM role_accounts WHERE role_id = $1 AND account_id = $2"
    )
    .bind(role.clone())
    .bind(account.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
