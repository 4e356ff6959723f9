//! Provisioned users: the platform user row plus the SCIM document, the indexed columns uniqueness needs,
//! and a version for `meta.version`.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::error::on_unique;
use crate::sql::{Sql, fetch_dyn};
use crate::users::{self as platform, UserRow};
use crate::{Exec, Result, StoreError, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScimUserRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub user_name: String,
    pub external_id: Option<String>,
    pub document: String,
    pub version: i64,
    pub scim_created_at: i64,
    pub scim_modified_at: i64,
}

/// The SCIM columns written beside the document.
#[derive(Debug, Clone)]
pub struct ScimColumns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub work_phone: Option<String>,
    pub mobile: Option<String>,
    pub document: String,
}

fn select() -> String {
    format!(
        "SELECT {cols}, s.user_name, s.external_id, s.document, s.version, s.created_at AS scim_created_at, \
         s.modified_at AS scim_modified_at FROM scim_users s JOIN users u ON u.id = s.user_id",
        cols = platform::columns_of("u")
    )
}

const DUPLICATE: &str = "a user with one of these attribute values in the account";

pub async fn get(
    db: &mut impl Exec,
    scope: &AccountScope,
    id: UserId,
) -> Result<Option<ScimUserRow>> {
    let mut sql = Sql::new(&select());
    sql.push(" WHERE s.account_id = ")
        .arg(scope.account_id().to_string())
        .push(" AND s.user_id = ")
        .arg(id.to_string());
    Ok(fetch_dyn!(db, sql, ScimUserRow, fetch_optional)?)
}

/// One page in creation order (SCIM paging is by offset: `startIndex` is 1-based).
pub async fn page(
    db: &mut impl Exec,
    scope: &AccountScope,
    offset: i64,
    limit: i64,
) -> Result<Vec<ScimUserRow>> {
    let mut sql = Sql::new(&select());
    sql.push(" WHERE s.account_id = ")
        .arg(scope.account_id().to_string())
        .push(" ORDER BY s.created_at, s.user_id LIMIT ")
        .arg(limit)
        .push(" OFFSET ")
        .arg(offset);
    Ok(fetch_dyn!(db, sql, ScimUserRow, fetch_all)?)
}

pub async fn count(db: &mut impl Exec, scope: &AccountScope) -> Result<i64> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM scim_users WHERE account_id = $1"
    )
    .bind(account.clone())
    .fetch_one(&mut *c)
    .await)?)
}

/// An indexed column a filter's equality can be looked up by.
#[derive(Debug, Clone)]
pub enum Lookup {
    Id(String),
    /// Compared case-insensitively (userName is caseExact=false).
    UserName(String),
    ExternalId(String),
    /// The platform e-mail (the work e-mail), case-insensitively.
    Email(String),
    /// The platform display name, case-insensitively.
    DisplayName(String),
}

/// Users one indexed equality selects, in creation order; the caller evaluates the whole filter on them.
pub async fn find(
    db: &mut impl Exec,
    scope: &AccountScope,
    by: &Lookup,
) -> Result<Vec<ScimUserRow>> {
    let mut sql = Sql::new(&select());
    sql.push(" WHERE s.account_id = ")
        .arg(scope.account_id().to_string());
    match by {
        Lookup::Id(v) => sql.push(" AND s.user_id = ").arg(v.clone()),
        Lookup::UserName(v) => sql.push(" AND s.user_name_key = ").arg(v.to_lowercase()),
        Lookup::ExternalId(v) => sql.push(" AND s.external_id = ").arg(v.clone()),
        Lookup::Email(v) => sql.push(" AND u.email_key = ").arg(v.to_lowercase()),
        Lookup::DisplayName(v) => sql.push(" AND u.name_key = ").arg(v.to_lowercase()),
    };
    sql.push(" ORDER BY s.created_at, s.user_id");
    Ok(fetch_dyn!(db, sql, ScimUserRow, fetch_all)?)
}

/// Every provisioned user of the account, for filters no index serves.
pub async fn all(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<ScimUserRow>> {
    page(db, scope, 0, i64::MAX).await
}

/// The values that must be unique within the account, and the user that may already hold them (itself).
#[derive(Debug, Clone)]
pub struct Uniques<'a> {
    pub except: Option<UserId>,
    pub user_name: &'a str,
    pub external_id: Option<&'a str>,
    pub email: &'a str,
    pub phones: Vec<(&'static str, &'a str)>,
}

/// The first attribute whose value another user of the account already holds, if any. Console and PBX users
/// count too: their e-mail, login id and numbers are in use as much as a provisioned user's. One statement:
/// this runs on every provisioning write.
pub async fn conflict(
    db: &mut impl Exec,
    scope: &AccountScope,
    u: &Uniques<'_>,
) -> Result<Option<&'static str>> {
    let account = scope.account_id().to_string();
    let except = u.except.map(|id| id.to_string()).unwrap_or_default();
    let phones: Vec<(&'static str, String)> =
        u.phones.iter().map(|(a, n)| (*a, n.to_string())).collect();
    let phone = |i: usize| phones.get(i).map(|(_, n)| n.clone());
    let (p1, p2) = (phone(0), phone(1));
    let found: (bool, bool, bool, bool, bool) =
        on_conn!(db, |conn| sqlx::query_as(super::save::conflict_sql())
            .bind(account.clone())
            .bind(except.clone())
            .bind(u.user_name.to_lowercase())
            .bind(u.user_name.to_string())
            .bind(u.external_id.map(str::to_string))
            .bind(u.email.to_lowercase())
            .bind(p1.clone())
            .bind(p2.clone())
            .fetch_one(&mut *conn)
            .await)?;
    Ok(super::save::first_conflict(
        [found.0, found.1, found.2, found.3, found.4],
        &phones,
    ))
}

/// Creates the platform user and its SCIM row.
pub async fn insert(
    tx: &mut Tx,
    scope: &AccountScope,
    user: &UserRow,
    s: &ScimColumns,
) -> Result<()> {
    platform::insert(tx, scope, user).await?;
    let (account, id, s) = (scope.account_id().to_string(), user.id.clone(), s.clone());
    let now = user.created_at;
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO scim_users (user_id, account_id, user_name, user_name_key, external_id, work_phone, mobile, \
         document, version, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)"
    )
    .bind(id.clone())
    .bind(account.clone())
    .bind(s.user_name.clone())
    .bind(s.user_name.to_lowercase())
    .bind(s.external_id.clone())
    .bind(s.work_phone.clone())
    .bind(s.mobile.clone())
    .bind(s.document.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    Ok(())
}

/// Writes the platform user and the SCIM row, bumping the version.
pub async fn update(
    tx: &mut Tx,
    scope: &AccountScope,
    user: &UserRow,
    s: &ScimColumns,
) -> Result<()> {
    platform::update(tx, scope, user).await?;
    let (account, id, s) = (scope.account_id().to_string(), user.id.clone(), s.clone());
    let now = user.modified_at;
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, work_phone = $6, mobile = $7, \
         document = $8, version = version + 1, modified_at = $9 WHERE account_id = $1 AND user_id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(s.user_name.clone())
    .bind(s.user_name.to_lowercase())
    .bind(s.external_id.clone())
    .bind(s.work_phone.clone())
    .bind(s.mobile.clone())
    .bind(s.document.clone())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    if n == 0 {
        return Err(StoreError::corrupt("scim user without its row"));
    }
    Ok(())
}

/// [`update`] if the SCIM row is still at `version`; `false` (nothing written) when it is not.
pub async fn update_if(
    tx: &mut Tx,
    scope: &AccountScope,
    user: &UserRow,
    s: &ScimColumns,
    version: i64,
) -> Result<bool> {
    let (account, id, s) = (scope.account_id().to_string(), user.id.clone(), s.clone());
    let now = user.modified_at;
    let n = on_conn!(tx, |c| sqlx::query(
        "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, work_phone = $6, mobile = $7, \
         document = $8, version = version + 1, modified_at = $9 WHERE account_id = $1 AND user_id = $2 AND version = $10"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(s.user_name.clone())
    .bind(s.user_name.to_lowercase())
    .bind(s.external_id.clone())
    .bind(s.work_phone.clone())
    .bind(s.mobile.clone())
    .bind(s.document.clone())
    .bind(now)
    .bind(version)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    if n == 0 {
        return Ok(false);
    }
    platform::update(tx, scope, user).await?;
    Ok(true)
}

/// Sets only `active` (and ends nothing: the caller revokes sessions and grants).
pub async fn set_active(
    tx: &mut Tx,
    scope: &AccountScope,
    id: UserId,
    active: bool,
    now: i64,
) -> Result<()> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    on_conn!(tx, |c| {
        sqlx::query(
        "UPDATE users SET active = $3, modified_at = $4, modified_by = 'SCIM' WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .bind(active)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A user holding a phone number, for the conflict search.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PhoneHolder {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub user_name: Option<String>,
}

/// Active and inactive users of the account holding `number`: as their mobile, as a provisioned work phone, or
/// anywhere in a provisioned document (other and fax numbers).
pub async fn phone_holders(
    db: &mut impl Exec,
    scope: &AccountScope,
    number: &str,
) -> Result<Vec<PhoneHolder>> {
    let quoted = format!("%\"{}\"%", crate::like_escape(number));
    let mut sql = Sql::new(&format!(
        "SELECT {cols}, s.user_name FROM users u LEFT JOIN scim_users s ON s.user_id = u.id WHERE u.account_id = ",
        cols = platform::columns_of("u")
    ));
    sql.arg(scope.account_id().to_string())
        .push(" AND (u.mobile = ")
        .arg(number.to_string())
        .push(" OR s.work_phone = ")
        .arg(number.to_string())
        .push(" OR s.document LIKE ")
        .arg(quoted)
        .push(" ESCAPE '\\') ORDER BY u.name_key, u.id LIMIT 100");
    Ok(fetch_dyn!(db, sql, PhoneHolder, fetch_all)?)
}
