//! Provisioned users: the platform user row plus the SCIM document, the indexed columns uniqueness needs,
//! and a version for `meta.version`.

use skybridge_domain::UserId;
use skybridge_domain::policy::AccountScope;

use crate::sql::{Sql, fetch_dyn};
use crate::users::{self as platform, UserRow};
use crate::{Exec, Result, on_conn};

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
