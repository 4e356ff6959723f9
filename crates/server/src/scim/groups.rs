//! Writing provisioned groups. Members are platform users of the same account; PATCH adds and removes them
//! one row each, so a group of thousands changes by the members named, not by rewriting the list.

use std::collections::HashSet;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use skybridge_domain::event::{Action, Actor, NewEvent};
use skybridge_scim::{ResourceKind, ScimError, patch, resource};
use skybridge_store::scim::groups::{self as store, GroupRow, Lookup};
use skybridge_store::{Exec, Tx};

use super::Tenant;
use super::mapping::{group_document, group_with_members, render_group};
use super::query::{group_id, not_found};
use super::reply::{Fail, created, json, no_content};
use crate::state::AppState;

const KIND: ResourceKind = ResourceKind::Group;
/// Attempts of a PATCH that keeps meeting a concurrent change of the same group.
const ATTEMPTS: usize = 10;

async fn audit(
    tx: &mut Tx,
    state: &AppState,
    t: &Tenant,
    action: Action,
    id: &str,
    name: &str,
    changed: Vec<String>,
) -> Result<(), Fail> {
    let event = NewEvent::admin(t.account, Actor::Scim, action, "Group", id)
        .changed(changed)
        .detail("displayName", name.to_string())
        .tag("group")
        .tag("scim");
    skybridge_store::events::insert(tx, &event, "SCIM", state.now()).await?;
    Ok(())
}

/// 409 when another group of the account has the displayName or externalId.
async fn check_unique(
    tx: &mut Tx,
    t: &Tenant,
    except: Option<&str>,
    name: &str,
    external: Option<&str>,
) -> Result<(), Fail> {
    let others = |rows: Vec<GroupRow>| rows.into_iter().any(|r| Some(r.id.as_str()) != except);
    if others(store::find(tx, &t.scope, &Lookup::DisplayName(name.to_string())).await?) {
        return Err(ScimError::uniqueness(
            "One or more of the attribute values are already in use: displayName",
        )
        .into());
    }
    if let Some(ext) = external
        && others(store::find(tx, &t.scope, &Lookup::ExternalId(ext.to_string())).await?)
    {
        return Err(ScimError::uniqueness(
            "One or more of the attribute values are already in use: externalId",
        )
        .into());
    }
    Ok(())
}

/// 400 naming the first member that is not a user of the account.
async fn check_members(tx: &mut Tx, t: &Tenant, members: &[String]) -> Result<(), Fail> {
    let mut known: HashSet<String> = HashSet::new();
    for chunk in members.chunks(500) {
        known.extend(store::existing_users(tx, &t.scope, chunk).await?);
    }
    if let Some(missing) = members.iter().find(|m| !known.contains(*m)) {
        return Err(ScimError::invalid_value(format!(
            "members: {missing} is not a user of this account"
        ))
        .into());
    }
    Ok(())
}

async fn rendered(tx: &mut Tx, t: &Tenant, id: &str) -> Result<Value, Fail> {
    let row = store::get(tx, &t.scope, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let members = store::members(tx, &t.scope, id).await?;
    Ok(render_group(t, &row, Some(&members)))
}

pub async fn create(state: &AppState, t: &Tenant, body: &Value) -> Result<Response, Fail> {
    let doc = resource::normalize(KIND, body)?;
    let (name, external, stored, members) = group_document(&doc);
    let now = state.now();
    let mut tx = state.store.begin().await?;
    check_unique(&mut tx, t, None, &name, external.as_deref()).await?;
    check_members(&mut tx, t, &members).await?;
    let id = uuid::Uuid::now_v7().to_string();
    store::insert(
        &mut tx,
        &t.scope,
        &GroupRow {
            id: id.clone(),
            display_name: name.clone(),
            external_id: external,
            document: stored,
            version: 1,
            created_at: now,
            modified_at: now,
        },
    )
    .await?;
    for m in &members {
        store::add_member(&mut tx, &t.scope, &id, m).await?;
    }
    audit(
        &mut tx,
        state,
        t,
        Action::Create,
        &id,
        &name,
        resource::changed(KIND, &json!({}), &doc),
    )
    .await?;
    let v = rendered(&mut tx, t, &id).await?;
    tx.commit().await?;
    Ok(created(&v, &format!("{}/Groups/{id}", t.base)))
}

/// Writes `doc` over the group `row` whose members were `before`.
async fn write(
    tx: &mut Tx,
    state: &AppState,
    t: &Tenant,
    row: &GroupRow,
    before: &Value,
    doc: &Value,
) -> Result<(), Fail> {
    let changed = resource::changed(KIND, before, doc);
    if changed.is_empty() {
        return Ok(());
    }
    let (name, external, stored, members) = group_document(doc);
    let (_, _, _, old_members) = group_document(before);
    check_unique(tx, t, Some(&row.id), &name, external.as_deref()).await?;
    let old: HashSet<&String> = old_members.iter().collect();
    let new: HashSet<&String> = members.iter().collect();
    let added: Vec<String> = members
        .iter()
        .filter(|m| !old.contains(m))
        .cloned()
        .collect();
    check_members(tx, t, &added).await?;
    for m in &added {
        store::add_member(tx, &t.scope, &row.id, m).await?;
    }
    for m in old_members.iter().filter(|m| !new.contains(m)) {
        store::remove_member(tx, &t.scope, &row.id, m).await?;
    }
    store::update(
        tx,
        &t.scope,
        &GroupRow {
            display_name: name.clone(),
            external_id: external,
            document: stored,
            modified_at: state.now(),
            ..row.clone()
        },
    )
    .await?;
    audit(tx, state, t, Action::Edit, &row.id, &name, changed).await
}

async fn load(tx: &mut impl Exec, t: &Tenant, id: &str) -> Result<(GroupRow, Value), Fail> {
    let gid = group_id(id)?;
    let row = store::get(tx, &t.scope, &gid)
        .await?
        .ok_or_else(|| not_found(id))?;
    let members = store::members(tx, &t.scope, &gid).await?;
    let doc = group_with_members(&row, &members);
    Ok((row, doc))
}

pub async fn replace(
    state: &AppState,
    t: &Tenant,
    id: &str,
    body: &Value,
) -> Result<Response, Fail> {
    let mut tx = state.store.begin().await?;
    let (row, before) = load(&mut tx, t, id).await?;
    let doc = resource::normalize(KIND, body)?;
    write(&mut tx, state, t, &row, &before, &doc).await?;
    let v = rendered(&mut tx, t, &row.id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &v))
}

/// PATCH answers 204: Entra advises against returning every member of a large group. The PATCH is worked out
/// before the write transaction opens (a large group's member list is big); the write goes ahead only if the
/// group is still at the version read, else it is redone.
pub async fn patch(state: &AppState, t: &Tenant, id: &str, body: &Value) -> Result<Response, Fail> {
    for _ in 0..ATTEMPTS {
        let (row, before) = load(&mut state.store.handle().await?, t, id).await?;
        let mut doc = before.clone();
        patch::apply(KIND, &mut doc, body)?;
        let mut tx = state.store.begin().await?;
        let current = store::get(&mut tx, &t.scope, &row.id)
            .await?
            .ok_or_else(|| not_found(id))?;
        if current.version != row.version {
            continue;
        }
        write(&mut tx, state, t, &row, &before, &doc).await?;
        tx.commit().await?;
        return Ok(no_content());
    }
    Err(ScimError::new(
        409,
        None,
        "the group keeps changing concurrently; retry the request",
    )
    .into())
}

pub async fn delete(state: &AppState, t: &Tenant, id: &str) -> Result<Response, Fail> {
    let gid = group_id(id)?;
    let mut tx = state.store.begin().await?;
    let row = store::get(&mut tx, &t.scope, &gid)
        .await?
        .ok_or_else(|| not_found(id))?;
    store::delete(&mut tx, &t.scope, &gid).await?;
    audit(
        &mut tx,
        state,
        t,
        Action::Delete,
        &gid,
        &row.display_name,
        Vec::new(),
    )
    .await?;
    tx.commit().await?;
    Ok(no_content())
}
