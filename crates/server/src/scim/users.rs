//! Writing provisioned users: POST, PUT, PATCH, DELETE. Each write and its audit event (actor "SCIM") commit
//! together; a refused request writes nothing.

use axum::response::Response;
use serde_json::{Value, json};
use skybridge_domain::UserId;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::user::Source;
use skybridge_scim::{ResourceKind, ScimError, patch, resource};
use skybridge_store::Tx;
use skybridge_store::scim::users::{self as store, Lookup, ScimUserRow, Uniques};
use skybridge_store::users::UserRow;

use super::Tenant;
use super::mapping::{PlatformUser, platform_user, render_user, user_document};
use super::query::not_found;
use super::reply::{Fail, created, json};
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::User;
const ACTOR_NAME: &str = "SCIM";

fn parse_id(id: &str) -> Result<UserId, Fail> {
    id.parse().map_err(|_| not_found(id))
}

async fn audit(
    tx: &mut Tx,
    state: &AppState,
    t: &Tenant,
    action: Action,
    id: UserId,
    changed: Vec<String>,
    p: &PlatformUser,
) -> Result<(), Fail> {
    let event = NewEvent::admin(t.account, Actor::Scim, action, "User", id)
        .changed(changed)
        .detail("fullname", p.display_name.clone())
        .detail("email", p.email.clone())
        .detail("userName", p.user_name.clone())
        .tag("user")
        .tag("scim");
    skybridge_store::events::insert(tx, &event, ACTOR_NAME, state.now()).await?;
    Ok(())
}

async fn check_unique(
    tx: &mut Tx,
    t: &Tenant,
    except: Option<UserId>,
    p: &PlatformUser,
) -> Result<(), Fail> {
    let uniques = Uniques {
        except,
        user_name: &p.user_name,
        external_id: p.external_id.as_deref(),
        email: &p.email,
        phones: p.phones(),
    };
    if let Some(attr) = store::conflict(tx, &t.scope, &uniques).await? {
        return Err(ScimError::uniqueness(format!(
            "One or more of the attribute values are already in use: {attr}"
        ))
        .into());
    }
    Ok(())
}

pub async fn create(state: &AppState, t: &Tenant, body: &Value) -> Result<Response, Fail> {
    let doc = resource::normalize(KIND, body)?;
    let p = platform_user(&doc)?;
    let now = state.now();
    let mut tx = state.store.begin().await?;
    if let Err(conflict) = check_unique(&mut tx, t, None, &p).await {
        // Entra retries a create whose answer it did not get: the same userName with the same externalId is
        // that user, so the retry is answered with it (updated to what was sent) instead of a 409.
        let retried = match p.external_id {
            Some(_) => store::find(&mut tx, &t.scope, &Lookup::UserName(p.user_name.clone()))
                .await?
                .into_iter()
                .find(|r| r.external_id == p.external_id),
            None => None,
        };
        let Some(existing) = retried else {
            return Err(conflict);
        };
        let row = write(&mut tx, state, t, &existing, &doc, &p).await?;
        tx.commit().await?;
        let v = render_user(t, &row);
        return Ok(created(&v, &location(t, &row.user.id)));
    }
    let id = UserId::new();
    let user = UserRow {
        id: id.to_string(),
        account_id: t.account.to_string(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone(),
        login_id: Some(p.user_name.clone()),
        mobile: p.mobile.clone(),
        extension: None,
        role: p.role.unwrap_or("user").to_string(),
        registered: false,
        source: Source::Scim.as_str().to_string(),
        active: p.active,
        restricted_manager: false,
        created_at: now,
        modified_at: now,
        modified_by: ACTOR_NAME.to_string(),
    };
    let columns = p.columns(&doc);
    store::insert(&mut tx, &t.scope, &user, &columns).await?;
    let changed = resource::changed(KIND, &json!({}), &doc);
    audit(&mut tx, state, t, Action::Create, id, changed, &p).await?;
    tx.commit().await?;
    let row = ScimUserRow {
        user,
        user_name: columns.user_name,
        external_id: columns.external_id,
        document: columns.document,
        version: 1,
        scim_created_at: now,
        scim_modified_at: now,
    };
    Ok(created(&render_user(t, &row), &location(t, &row.user.id)))
}

fn location(t: &Tenant, id: &str) -> String {
    format!("{}/Users/{id}", t.base)
}

/// Writes a new document over an existing user: uniqueness, the platform row, sessions and tokens ended on
/// deactivation, and the event naming what changed. Nothing is written when nothing changed.
async fn write(
    tx: &mut Tx,
    state: &AppState,
    t: &Tenant,
    existing: &ScimUserRow,
    doc: &Value,
    p: &PlatformUser,
) -> Result<ScimUserRow, Fail> {
    let id = existing.user.user_id()?;
    let changed = resource::changed(KIND, &user_document(existing), doc);
    if changed.is_empty() {
        return Ok(existing.clone());
    }
    check_unique(tx, t, Some(id), p).await?;
    let now = state.now();
    let mut user = existing.user.clone();
    user.first_name = p.first_name.clone();
    user.last_name = p.last_name.clone();
    user.display_name = p.display_name.clone();
    user.email = p.email.clone();
    user.login_id = Some(p.user_name.clone());
    user.mobile = p.mobile.clone();
    if let Some(role) = p.role {
        user.role = role.to_string();
    }
    user.active = p.active;
    user.modified_at = now;
    user.modified_by = ACTOR_NAME.to_string();
    let columns = p.columns(doc);
    store::update(tx, &t.scope, &user, &columns).await?;
    if existing.user.active && !p.active {
        // Deactivated in Entra: signed out and its tokens revoked at once, as when an admin deactivates.
        skybridge_store::sessions::delete_for_user(tx, &t.scope, id).await?;
        skybridge_store::oauth::grants::revoke_for_user(tx, &t.scope, id, now).await?;
    }
    audit(tx, state, t, Action::Edit, id, changed, p).await?;
    Ok(ScimUserRow {
        user,
        user_name: columns.user_name,
        external_id: columns.external_id,
        document: columns.document,
        version: existing.version + 1,
        scim_created_at: existing.scim_created_at,
        scim_modified_at: now,
    })
}

pub async fn replace(
    state: &AppState,
    t: &Tenant,
    id: &str,
    body: &Value,
) -> Result<Response, Fail> {
    let uid = parse_id(id)?;
    let mut tx = state.store.begin().await?;
    let existing = store::get(&mut tx, &t.scope, uid)
        .await?
        .ok_or_else(|| not_found(id))?;
    let doc = resource::normalize(KIND, body)?;
    let p = platform_user(&doc)?;
    let row = write(&mut tx, state, t, &existing, &doc, &p).await?;
    tx.commit().await?;
    Ok(json(axum::http::StatusCode::OK, &render_user(t, &row)))
}

pub async fn patch(state: &AppState, t: &Tenant, id: &str, body: &Value) -> Result<Response, Fail> {
    let uid = parse_id(id)?;
    let mut tx = state.store.begin().await?;
    let existing = store::get(&mut tx, &t.scope, uid)
        .await?
        .ok_or_else(|| not_found(id))?;
    let mut doc = user_document(&existing);
    patch::apply(KIND, &mut doc, body)?;
    let p = platform_user(&doc)?;
    let row = write(&mut tx, state, t, &existing, &doc, &p).await?;
    tx.commit().await?;
    Ok(json(axum::http::StatusCode::OK, &render_user(t, &row)))
}

pub async fn delete(state: &AppState, t: &Tenant, id: &str) -> Result<Response, Fail> {
    let uid = parse_id(id)?;
    let mut tx = state.store.begin().await?;
    let existing = store::get(&mut tx, &t.scope, uid)
        .await?
        .ok_or_else(|| not_found(id))?;
    let p = platform_user(&user_document(&existing)).unwrap_or_else(|_| PlatformUser {
        user_name: existing.user_name.clone(),
        external_id: existing.external_id.clone(),
        email: existing.user.email.clone(),
        first_name: None,
        last_name: None,
        display_name: existing.user.display_name.clone(),
        mobile: None,
        work_phone: None,
        active: existing.user.active,
        role: None,
    });
    skybridge_store::users::delete(&mut tx, &t.scope, uid).await?;
    audit(&mut tx, state, t, Action::Delete, uid, Vec::new(), &p).await?;
    tx.commit().await?;
    Ok(super::reply::no_content())
}
