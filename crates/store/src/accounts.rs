//! Accounts and their support contacts.

use skybridge_domain::AccountId;
use skybridge_domain::account::{AccountKind, AccountStatus};
use skybridge_domain::policy::{AccountListScope, AccountRef, AccountScope};

use crate::error::on_unique;
use crate::sql::{Sql, fetch_dyn};
use crate::{Exec, Result, StoreError, Tx, like_escape, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: String,
    pub number: i64,
    pub kind: String,
    pub partner_id: Option<String>,
    pub name: String,
    pub country: String,
    pub province: String,
    pub address: String,
    pub address2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub default_language: String,
    pub business_type: Option<String>,
    pub sap_customer_number: Option<String>,
    pub cloud_location: String,
    pub pbx_type: Option<String>,
    pub status: String,
    pub delegated_authentication: bool,
    pub allow_guest_access: bool,
    pub bandwidth_optimization: bool,
    pub chat_allow_edit_delete: bool,
    pub created_at: i64,
    pub modified_at: i64,
    pub modified_by: String,
}

const COLUMNS: &str = "id, number, kind, partner_id, name, country, province, address, address2, city, postal_code, \
    default_language, business_type, sap_customer_number, cloud_location, pbx_type, status, delegated_authentication, \
    allow_guest_access, bandwidth_optimization, chat_allow_edit_delete, created_at, modified_at, modified_by";

impl AccountRow {
    pub fn account_id(&self) -> Result<AccountId> {
        self.id.parse().map_err(StoreError::corrupt)
    }

    pub fn account_ref(&self) -> Result<AccountRef> {
        Ok(AccountRef {
            id: self.account_id()?,
            kind: self
                .kind
                .parse()
                .map_err(|_| StoreError::corrupt(&self.kind))?,
            partner_id: self
                .partner_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            status: self
                .status
                .parse()
                .map_err(|_| StoreError::corrupt(&self.status))?,
        })
    }

    pub fn status(&self) -> AccountStatus {
        self.status.parse().unwrap_or(AccountStatus::Deleted)
    }

    pub fn kind(&self) -> AccountKind {
        self.kind.parse().unwrap_or(AccountKind::Customer)
    }
}

/// How an account is named in a URL: its UUID or its 9-digit number.
#[derive(Debug, Clone, Copy)]
pub enum Lookup {
    Id(AccountId),
    Number(i64),
}

/// Loads what the policy needs to decide about an account. This is deliberately all an unauthorized
/// caller can learn; the account's data needs an [`AccountScope`].
pub async fn load_ref(db: &mut impl Exec, lookup: Lookup) -> Result<Option<AccountRef>> {
    let row: Option<(String, String, Option<String>, String)> = match lookup {
        Lookup::Id(id) => on_conn!(db, |c| sqlx::query_as(
            "SELECT id, kind, partner_id, status FROM accounts WHERE id = $1"
        )
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await)?,
        Lookup::Number(n) => on_conn!(db, |c| sqlx::query_as(
            "SELECT id, kind, partner_id, status FROM accounts WHERE number = $1"
        )
        .bind(n)
        .fetch_optional(&mut *c)
        .await)?,
    };
    row.map(|(id, kind, partner_id, status)| {
        Ok(AccountRef {
            id: id.parse().map_err(StoreError::corrupt)?,
            kind: kind.parse().map_err(|_| StoreError::corrupt(&kind))?,
            partner_id: partner_id
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            status: status.parse().map_err(|_| StoreError::corrupt(&status))?,
        })
    })
    .transpose()
}

pub async fn get(db: &mut impl Exec, scope: &AccountScope) -> Result<Option<AccountRow>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    let id = scope.account_id().to_string();
    Ok(on_conn!(db, |c| sqlx::query_as::<_, AccountRow>(
        sqlx::AssertSqlSafe(sql.clone())
    )
    .bind(id.clone())
    .fetch_optional(&mut *c)
    .await)?)
}

/// The operator's Partner Account, if first start has created it.
pub async fn first_partner(db: &mut impl Exec) -> Result<Option<AccountId>> {
    let id: Option<String> = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT id FROM accounts WHERE kind = 'partner' ORDER BY created_at LIMIT 1"
    )
    .fetch_optional(&mut *c)
    .await)?;
    id.map(|s| s.parse().map_err(StoreError::corrupt))
        .transpose()
}

pub async fn number_taken(db: &mut impl Exec, number: i64) -> Result<bool> {
    let n: i64 = on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM accounts WHERE number = $1"
    )
    .bind(number)
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// Inserts a new account. Its scope is that of the account itself (the caller authorized creating it
/// under its partner).
pub async fn insert(tx: &mut Tx, row: &AccountRow) -> Result<()> {
    let sql = format!(
        "INSERT INTO accounts ({COLUMNS}, name_key) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)"
    );
    let r = row.clone();
    on_conn!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .bind(r.id.clone())
        .bind(r.number)
        .bind(r.kind.clone())
        .bind(r.partner_id.clone())
        .bind(r.name.clone())
        .bind(r.country.clone())
        .bind(r.province.clone())
        .bind(r.address.clone())
        .bind(r.address2.clone())
        .bind(r.city.clone())
        .bind(r.postal_code.clone())
        .bind(r.default_language.clone())
        .bind(r.business_type.clone())
        .bind(r.sap_customer_number.clone())
        .bind(r.cloud_location.clone())
        .bind(r.pbx_type.clone())
        .bind(r.status.clone())
        .bind(r.delegated_authentication)
        .bind(r.allow_guest_access)
        .bind(r.bandwidth_optimization)
        .bind(r.chat_allow_edit_delete)
        .bind(r.created_at)
        .bind(r.modified_at)
        .bind(r.modified_by.clone())
        .bind(r.name.to_lowercase())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))
    .map_err(on_unique("an account with this number"))?;
    Ok(())
}

/// Writes the editable fields, status and switches of the account in scope.
pub async fn update(tx: &mut Tx, scope: &AccountScope, r: &AccountRow) -> Result<()> {
    let id = scope.account_id().to_string();
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE accounts SET name = $2, name_key = $3, country = $4, province = $5, address = $6, address2 = $7, \
         city = $8, postal_code = $9, default_language = $10, business_type = $11, status = $12, \
         delegated_authentication = $13, allow_guest_access = $14, bandwidth_optimization = $15, \
         chat_allow_edit_delete = $16, modified_at = $17, modified_by = $18 WHERE id = $1"
    )
    .bind(id.clone())
    .bind(r.name.clone())
    .bind(r.name.to_lowercase())
    .bind(r.country.clone())
    .bind(r.province.clone())
    .bind(r.address.clone())
    .bind(r.address2.clone())
    .bind(r.city.clone())
    .bind(r.postal_code.clone())
    .bind(r.default_language.clone())
    .bind(r.business_type.clone())
    .bind(r.status.clone())
    .bind(r.delegated_authentication)
    .bind(r.allow_guest_access)
    .bind(r.bandwidth_optimization)
    .bind(r.chat_allow_edit_delete)
    .bind(r.modified_at)
    .bind(r.modified_by.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Filters of the accounts list.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub status: Option<AccountStatus>,
    /// Case-insensitive substring of the name, or an exact account number.
    pub q: Option<String>,
}

/// Lists accounts in name order after `after` (name key, id).
pub async fn list(
    db: &mut impl Exec,
    scope: &AccountListScope,
    filter: &AccountFilter,
    after: Option<(String, String)>,
    limit: i64,
) -> Result<Vec<AccountRow>> {
    let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM accounts WHERE "));
    match scope {
        AccountListScope::Own(id) => {
            sql.push("id = ").arg(id.to_string());
        }
        AccountListScope::Partner { partner_id, only } => {
            sql.push("partner_id = ").arg(partner_id.to_string());
            if let Some(only) = only {
                if only.is_empty() {
                    return Ok(Vec::new());
                }
                sql.push(" AND id IN (");
                for (i, id) in only.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.arg(id.to_string());
                }
                sql.push(")");
            }
        }
    }
    match filter.status {
        Some(s) => sql.push(" AND status = ").arg(s.as_str()),
        None => sql.push(" AND status <> 'deleted'"),
    };
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let number = if q.len() == 9 {
            q.parse::<i64>().ok()
        } else {
            None
        };
        sql.push(" AND (name_key LIKE ")
            .arg(format!("%{}%", like_escape(&q.to_lowercase())))
            .push(" ESCAPE '\\'");
        if let Some(n) = number {
            sql.push(" OR number = ").arg(n);
        }
        sql.push(")");
    }
    if let Some((name_key, id)) = after {
        sql.push(" AND (name_key, id) > (")
            .arg(name_key)
            .push(", ")
            .arg(id)
            .push(")");
    }
    sql.push(" ORDER BY name_key, id LIMIT ").arg(limit);
    Ok(fetch_dyn!(db, sql, AccountRow, fetch_all)?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub position: i64,
    pub user_id: Option<String>,
    pub email: Option<String>,
}

pub async fn contacts(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<ContactRow>> {
    let id = scope.account_id().to_string();
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, ContactRow>(
        "SELECT position, user_id, email FROM support_contacts WHERE account_id = $1 ORDER BY position"
    )
    .bind(id.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}

pub async fn replace_contacts(
    tx: &mut Tx,
    scope: &AccountScope,
    contacts: &[ContactRow],
) -> Result<()> {
    let id = scope.account_id().to_string();
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM support_contacts WHERE account_id = $1"
    )
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    for contact in contacts {
        let contact = contact.clone();
        on_conn!(tx, |c| {
            sqlx::query(
            "INSERT INTO support_contacts (account_id, position, user_id, email) VALUES ($1, $2, $3, $4)"
        )
        .bind(id.clone())
        .bind(contact.position)
        .bind(contact.user_id.clone())
        .bind(contact.email.clone())
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}
