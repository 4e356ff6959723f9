//! Provisioned groups and their members (platform users of the same account).

use skybridge_domain::policy::AccountScope;

use crate::error::on_unique;
use crate::sql::{Sql, fetch_dyn};
use crate::{Exec, Result, Tx, on_conn};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub document: String,
    pub version: i64,
    pub created_at: i64,
    pub modified_at: i64,
}

const COLUMNS: &str = "id, display_name, external_id, document, version, created_at, modified_at";
const DUPLICATE: &str = "a group with this displayName or externalId in the account";

pub async fn get(db: &mut impl Exec, scope: &AccountScope, id: &str) -> Result<Option<GroupRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM scim_groups WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" AND id = ")
        .arg(id.to_string());
    Ok(fetch_dyn!(db, sql, GroupRow, fetch_optional)?)
}

pub async fn page(
    db: &mut impl Exec,
    scope: &AccountScope,
    offset: i64,
    limit: i64,
) -> Result<Vec<GroupRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM scim_groups WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string())
        .push(" ORDER BY created_at, id LIMIT ")
        .arg(limit)
        .push(" OFFSET ")
        .arg(offset);
    Ok(fetch_dyn!(db, sql, GroupRow, fetch_all)?)
}

pub async fn count(db: &mut impl Exec, scope: &AccountScope) -> Result<i64> {
    let account = scope.account_id().to_string();
    Ok(on_conn!(db, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM scim_groups WHERE account_id = $1"
    )
    .bind(account.clone())
    .fetch_one(&mut *c)
    .await)?)
}

#[derive(Debug, Clone)]
pub enum Lookup {
    Id(String),
    DisplayName(String),
    ExternalId(String),
}

pub async fn find(db: &mut impl Exec, scope: &AccountScope, by: &Lookup) -> Result<Vec<GroupRow>> {
    let mut sql = Sql::new(&format!(
        "SELECT {COLUMNS} FROM scim_groups WHERE account_id = "
    ));
    sql.arg(scope.account_id().to_string());
    match by {
        Lookup::Id(v) => sql.push(" AND id = ").arg(v.clone()),
        Lookup::DisplayName(v) => sql.push(" AND display_name_key = ").arg(v.to_lowercase()),
        Lookup::ExternalId(v) => sql.push(" AND external_id = ").arg(v.clone()),
    };
    sql.push(" ORDER BY created_at, id");
    Ok(fetch_dyn!(db, sql, GroupRow, fetch_all)?)
}

pub async fn all(db: &mut impl Exec, scope: &AccountScope) -> Result<Vec<GroupRow>> {
    page(db, scope, 0, i64::MAX).await
}

pub async fn insert(tx: &mut Tx, scope: &AccountScope, g: &GroupRow) -> Result<()> {
    let (account, g) = (scope.account_id().to_string(), g.clone());
    on_conn!(tx, |c| sqlx::query(
        "INSERT INTO scim_groups (id, account_id, display_name, display_name_key, external_id, document, version, \
         created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)"
    )
    .bind(g.id.clone())
    .bind(account.clone())
    .bind(g.display_name.clone())
    .bind(g.display_name.to_lowercase())
    .bind(g.external_id.clone())
    .bind(g.document.clone())
    .bind(g.created_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    Ok(())
}

pub async fn update(tx: &mut Tx, scope: &AccountScope, g: &GroupRow) -> Result<()> {
    let (account, g) = (scope.account_id().to_string(), g.clone());
    on_conn!(tx, |c| sqlx::query(
        "UPDATE scim_groups SET display_name = $3, display_name_key = $4, external_id = $5, document = $6, \
         version = version + 1, modified_at = $7 WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(g.id.clone())
    .bind(g.display_name.clone())
    .bind(g.display_name.to_lowercase())
    .bind(g.external_id.clone())
    .bind(g.document.clone())
    .bind(g.modified_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(on_unique(DUPLICATE))?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, scope: &AccountScope, id: &str) -> Result<bool> {
    let (account, id) = (scope.account_id().to_string(), id.to_string());
    let n = on_conn!(tx, |c| sqlx::query(
        "DELETE FROM scim_groups WHERE account_id = $1 AND id = $2"
    )
    .bind(account.clone())
    .bind(id.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A member with the name shown as its `display`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub user_id: String,
    pub display_name: String,
}

pub async fn members(db: &mut impl Exec, scope: &AccountScope, group: &str) -> Result<Vec<Member>> {
    let (account, group) = (scope.account_id().to_string(), group.to_string());
    Ok(on_conn!(db, |c| {
        sqlx::query_as::<_, Member>(
        "SELECT m.user_id, u.display_name FROM scim_group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.account_id = $1 AND m.group_id = $2 ORDER BY u.name_key, m.user_id"
    )
    .bind(account.clone())
    .bind(group.clone())
    .fetch_all(&mut *c)
    .await
    })?)
}

/// Which of `ids` are users of the account.
pub async fn existing_users(
    db: &mut impl Exec,
    scope: &AccountScope,
    ids: &[String],
) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("SELECT id FROM users WHERE account_id = ");
    sql.arg(scope.account_id().to_string()).push(" AND id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(id.clone());
    }
    sql.push(")");
    #[derive(sqlx::FromRow)]
    struct Id {
        id: String,
    }
    let rows: Vec<Id> = fetch_dyn!(db, sql, Id, fetch_all)?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn add_member(tx: &mut Tx, scope: &AccountScope, group: &str, user: &str) -> Result<()> {
    let (account, group, user) = (
        scope.account_id().to_string(),
        group.to_string(),
        user.to_string(),
    );
    on_conn!(tx, |c| {
        sqlx::query(
        "INSERT INTO scim_group_members (group_id, user_id, account_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(group.clone())
    .bind(user.clone())
    .bind(account.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn remove_member(
    tx: &mut Tx,
    scope: &AccountScope,
    group: &str,
    user: &str,
) -> Result<()> {
    let (account, group, user) = (
        scope.account_id().to_string(),
        group.to_string(),
        user.to_string(),
    );
    on_conn!(tx, |c| sqlx::query(
        "DELETE FROM scim_group_members WHERE account_id = $1 AND group_id = $2 AND user_id = $3"
    )
    .bind(account.clone())
    .bind(group.clone())
    .bind(user.clone())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
