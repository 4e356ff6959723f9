//! Writing provisioned users: POST, PUT, PATCH, DELETE. Each write and its audit event (actor "SCIM") commit
//! together; a refused request writes nothing.
//!
//! An update reads the user, computes the new document, and writes it only if the user is still at the
//! version it read (optimistic concurrency): two PATCHes of one user at once cannot lose either's change,
//! and no transaction is held open while the request is worked out.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use skybridge_domain::UserId;
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_domain::user::Source;
use skybridge_scim::{ResourceKind, ScimError, patch, resource};
use skybridge_store::scim::save::{Save, Saved, save};
use skybridge_store::scim::users::{self as store, Lookup, ScimUserRow};
use skybridge_store::users::UserRow;

use super::Tenant;
use super::mapping::{PlatformUser, platform_user, render_user, user_document};
use super::query::not_found;
use super::reply::{Fail, created, json, no_content};
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::User;
const ACTOR_NAME: &str = "SCIM";
/// Attempts of an update that keeps meeting a concurrent change of the same user.
const ATTEMPTS: usize = 10;

fn parse_id(id: &str) -> Result<UserId, Fail> {
    id.parse().map_err(|_| not_found(id))
}

fn event(
    t: &Tenant,
    action: Action,
    id: UserId,
    changed: Vec<String>,
    p: &PlatformUser,
) -> NewEvent {
    NewEvent::admin(t.account, Actor::Scim, action, "User", id)
        .changed(changed)
        .detail("fullname", p.display_name.clone())
        .detail("email", p.email.clone())
        .detail("userName", p.user_name.clone())
        .tag("user")
        .tag("scim")
}

fn in_use(attr: &str) -> Fail {
    ScimError::uniqueness(format!(
        "One or more of the attribute values are already in use: {attr}"
    ))
    .into()
}

/// What must be unique in the account, as the uniqueness check compares it (userName exactly: it is compared
/// both with and without case).
fn unique_values(p: &PlatformUser) -> (&str, Option<&str>, String, Option<&str>, Option<&str>) {
    (
        &p.user_name,
        p.external_id.as_deref(),
        p.email.to_lowercase(),
        p.mobile.as_deref(),
        p.work_phone.as_deref(),
    )
}

fn phones(p: &PlatformUser) -> Vec<(&'static str, String)> {
    p.phones()
        .into_iter()
        .map(|(attr, n)| (attr, n.to_string()))
        .collect()
}

/// 400 when the enterprise manager names no user of this account (a reference must stay inside the tenant).
async fn check_manager(state: &AppState, t: &Tenant, doc: &Value) -> Result<(), Fail> {
    let Some(manager) = doc
        .get(skybridge_scim::schema::ENTERPRISE_USER)
        .and_then(|e| e.get("manager"))
        .and_then(|m| m.get("value"))
        .and_then(Value::as_str)
    else {
        return Ok(());
    };
    let found = skybridge_store::scim::groups::existing_users(
        &mut state.store.handle().await?,
        &t.scope,
        &[manager.to_string()],
    )
    .await?;
    if found.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "manager: {manager} is not a user of this account"
        ))
        .into());
    }
    Ok(())
}

fn location(t: &Tenant, id: &str) -> String {
    format!("{}/Users/{id}", t.base)
}

pub async fn create(state: &AppState, t: &Tenant, body: &Value) -> Result<Response, Fail> {
    let doc = resource::normalize(KIND, body)?;
    let p = platform_user(&doc)?;
    check_manager(state, t, &doc).await?;
    let now = state.now();
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
    let saved = save(
        &state.store,
        &t.scope,
        Save {
            user: user.clone(),
            columns: columns.clone(),
            expected_version: None,
            previous: None,
            deactivate: false,
            phones: phones(&p),
            check_unique: true,
            event: event(
                t,
                Action::Create,
                id,
                resource::changed(KIND, &json!({}), &doc),
                &p,
            ),
            actor_name: ACTOR_NAME.into(),
        },
    )
    .await?;
    match saved {
        Saved::Done => {
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
        Saved::Conflict(attr) => {
            // Entra retries a create whose answer it did not get: the same userName with the same externalId is
            // that user, and a retry that would change nothing is answered with it. A create never writes over
            // an existing user: if the user changed since (a PATCH after the lost answer), putting the old body
            // back would undo newer data, so that is a 409 like any other taken userName (RFC 7644 §3.3).
            let retried = match p.external_id {
                Some(_) => store::find(
                    &mut state.store.handle().await?,
                    &t.scope,
                    &Lookup::UserName(p.user_name.clone()),
                )
                .await?
                .into_iter()
                .find(|r| r.external_id == p.external_id),
                None => None,
            };
            match retried {
                Some(existing)
                    if resource::changed(KIND, &user_document(&existing), &doc).is_empty() =>
                {
                    Ok(created(
                        &render_user(t, &existing),
                        &location(t, &existing.user.id),
                    ))
                }
                _ => Err(in_use(attr)),
            }
        }
        Saved::Stale => Err(Fail::Internal(anyhow::anyhow!("a create cannot be stale"))),
    }
}

/// Reads the user, makes its new document with `next`, and writes it unless nothing changed; again when the
/// user changed in between.
async fn update(
    state: &AppState,
    t: &Tenant,
    id: UserId,
    next: impl Fn(&ScimUserRow) -> Result<Value, Fail>,
) -> Result<ScimUserRow, Fail> {
    for _ in 0..ATTEMPTS {
        let existing = store::get(&mut state.store.handle().await?, &t.scope, id)
            .await?
            .ok_or_else(|| not_found(&id.to_string()))?;
        let doc = next(&existing)?;
        let p = platform_user(&doc)?;
        check_manager(state, t, &doc).await?;
        let before = user_document(&existing);
        let changed = resource::changed(KIND, &before, &doc);
        if changed.is_empty() {
            return Ok(existing);
        }
        let now = state.now();
        let mut user = existing.user.clone();
        user.first_name = p.first_name.clone();
        user.last_name = p.last_name.clone();
        user.display_name = p.display_name.clone();
        user.email = p.email.clone();
        user.login_id = Some(p.user_name.clone());
        user.mobile = p.mobile.clone();
        // The role follows Entra only when Entra changed it, and only between the two roles it can name: an
        // admin's promotion in the console survives the next PATCH of a title, and a custom role is never
        // overwritten.
        if let Some(role) = p.role
            && changed.iter().any(|c| c == "roles")
            && matches!(existing.user.role.as_str(), "user" | "account_admin")
        {
            user.role = role.to_string();
        }
        user.active = p.active;
        user.modified_at = now;
        user.modified_by = ACTOR_NAME.to_string();
        let columns = p.columns(&doc);
        let saved = save(
            &state.store,
            &t.scope,
            Save {
                user: user.clone(),
                columns: columns.clone(),
                expected_version: Some(existing.version),
                previous: Some(existing.user.clone()),
                // Deactivated in Entra: signed out and its tokens revoked at once, as when an admin deactivates.
                deactivate: existing.user.active && !p.active,
                phones: phones(&p),
                check_unique: platform_user(&before)
                    .map_or(true, |b| unique_values(&b) != unique_values(&p)),
                event: event(t, Action::Edit, id, changed, &p),
                actor_name: ACTOR_NAME.into(),
            },
        )
        .await?;
        match saved {
            Saved::Done => {
                return Ok(ScimUserRow {
                    user,
                    user_name: columns.user_name,
                    external_id: columns.external_id,
                    document: columns.document,
                    version: existing.version + 1,
                    scim_created_at: existing.scim_created_at,
                    scim_modified_at: now,
                });
            }
            Saved::Conflict(attr) => return Err(in_use(attr)),
            Saved::Stale => continue,
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the user keeps changing concurrently; retry the request",
    )
    .into())
}

pub async fn replace(
    state: &AppState,
    t: &Tenant,
    id: &str,
    body: &Value,
) -> Result<Response, Fail> {
    let uid = parse_id(id)?;
    let row = update(state, t, uid, |_| Ok(resource::normalize(KIND, body)?)).await?;
    Ok(json(StatusCode::OK, &render_user(t, &row)))
}

pub async fn patch(state: &AppState, t: &Tenant, id: &str, body: &Value) -> Result<Response, Fail> {
    let uid = parse_id(id)?;
    let row = update(state, t, uid, |existing| {
        let mut doc = user_document(existing);
        patch::apply(KIND, &mut doc, body)?;
        Ok(doc)
    })
    .await?;
    Ok(json(StatusCode::OK, &render_user(t, &row)))
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
    skybridge_store::events::insert(
        &mut tx,
        &event(t, Action::Delete, uid, Vec::new(), &p),
        ACTOR_NAME,
        state.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(no_content())
}
