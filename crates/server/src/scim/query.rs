//! Reading: one resource, lists with `filter`, `startIndex`/`count` paging and attribute projection, and
//! `POST /.search`.
//!
//! A filter is evaluated on the wire form of each candidate. Candidates come from an index when the filter
//! holds an equality on an indexed attribute (what Entra sends: `userName eq "…"`, `externalId eq "…"`), so a
//! matching query costs one indexed lookup; other filters scan the account.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use skybridge_scim::filter::{self, Filter};
use skybridge_scim::{ResourceKind, ScimError, resource, schema};
use skybridge_store::scim::{groups, users};

use super::Tenant;
use super::mapping::{render_group, render_user};
use super::reply::{Fail, json};
use crate::state::AppState;

/// The largest page served (`count` above it is lowered to it, RFC 7644 §3.4.2.4).
pub const MAX_COUNT: usize = 1000;
const DEFAULT_COUNT: usize = 100;

#[derive(Debug, Default, Clone)]
pub struct Params {
    pub filter: Option<String>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

fn number(name: &str, raw: &str) -> Result<i64, Fail> {
    raw.trim().parse::<i64>().map_err(|_| {
        Fail::Scim(ScimError::invalid_value(format!(
            "{name} must be an integer"
        )))
    })
}

impl Params {
    fn new(
        filter: Option<String>,
        start: Option<i64>,
        count: Option<i64>,
        attributes: Option<String>,
        excluded: Option<String>,
    ) -> Self {
        Params {
            filter: filter.filter(|f| !f.trim().is_empty()),
            // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
            start_index: start.unwrap_or(1).max(1) as usize,
            count: count.map_or(DEFAULT_COUNT, |c| c.clamp(0, MAX_COUNT as i64) as usize),
            attributes: attributes.filter(|a| !a.trim().is_empty()),
            excluded: excluded.filter(|a| !a.trim().is_empty()),
        }
    }

    /// From the query string; parameter names are matched case-insensitively and unknown ones (Entra's
    /// `aadOptscim062020`) are ignored.
    pub fn from_query(query: &str) -> Result<Params, Fail> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|_| {
            Fail::Scim(ScimError::invalid_syntax(
                "the query string is not well-formed",
            ))
        })?;
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let start = get("startIndex")
            .map(|s| number("startIndex", &s))
            .transpose()?;
        let count = get("count").map(|s| number("count", &s)).transpose()?;
        Ok(Params::new(
            get("filter"),
            start,
            count,
            get("attributes"),
            get("excludedAttributes"),
        ))
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Params, Fail> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax("a SearchRequest must be a JSON object").into());
        };
        let get = |name: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let list = |name: &str| -> Result<Option<String>, Fail> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(a)) => Ok(Some(
                    a.iter()
                        .map(|v| {
                            v.as_str().map(str::to_string).ok_or_else(|| {
                                Fail::Scim(ScimError::invalid_value(format!(
                                    "{name} must be strings"
                                )))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                )),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "{name} must be a list of strings"
                ))
                .into()),
            }
        };
        let int = |name: &str| -> Result<Option<i64>, Fail> {
            match get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                    Fail::Scim(ScimError::invalid_value(format!(
                        "{name} must be an integer"
                    )))
                }),
                Some(Value::String(s)) => number(name, s).map(Some),
                Some(_) => {
                    Err(ScimError::invalid_value(format!("{name} must be an integer")).into())
                }
            }
        };
        let filter = match get("filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ScimError::invalid_filter("filter must be a string").into()),
        };
        Ok(Params::new(
            filter,
            int("startIndex")?,
            int("count")?,
            list("attributes")?,
            list("excludedAttributes")?,
        ))
    }

    fn project(&self, kind: ResourceKind, v: &Value) -> Value {
        resource::project(
            kind,
            v,
            self.attributes.as_deref(),
            self.excluded.as_deref(),
        )
    }

    /// Whether group members need loading: they are returned, or the filter looks at them.
    fn wants_members(&self) -> bool {
        let mentions = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| s.to_ascii_lowercase().contains("members"))
        };
        if mentions(&self.filter) {
            return true;
        }
        match (&self.attributes, &self.excluded) {
            (Some(_), _) => mentions(&self.attributes),
            (None, Some(_)) => !mentions(&self.excluded),
            (None, None) => true,
        }
    }
}

fn parse_filter(p: &Params) -> Result<Option<Filter>, Fail> {
    Ok(p.filter.as_deref().map(filter::parse).transpose()?)
}

fn list_response(total: usize, start: usize, resources: Vec<Value>) -> Response {
    json(
        StatusCode::OK,
        &json!({
            "schemas": [schema::LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": resources.len(),
            "startIndex": start,
            "Resources": resources,
        }),
    )
}

fn user_lookup(f: &Filter) -> Option<users::Lookup> {
    let eqs = f.equalities();
    let find = |name: &str| eqs.iter().find(|(p, _)| p == name).map(|(_, v)| v.clone());
    if let Some(id) = find("id") {
        return Some(users::Lookup::Id(normal_id(&id)));
    }
    find("username")
        .map(users::Lookup::UserName)
        .or_else(|| find("externalid").map(users::Lookup::ExternalId))
        .or_else(|| find("emails.value").map(users::Lookup::Email))
        .or_else(|| find("displayname").map(users::Lookup::DisplayName))
}

fn group_lookup(f: &Filter) -> Option<groups::Lookup> {
    let eqs = f.equalities();
    let find = |name: &str| eqs.iter().find(|(p, _)| p == name).map(|(_, v)| v.clone());
    find("id")
        .map(|id| groups::Lookup::Id(normal_id(&id)))
        .or_else(|| find("displayname").map(groups::Lookup::DisplayName))
        .or_else(|| find("externalid").map(groups::Lookup::ExternalId))
}

/// Ids are UUIDs written hyphenated and lower-case; anything else cannot name a resource.
/// A group id from a URL: hyphenated lower-case UUID, or 404.
pub fn group_id(id: &str) -> Result<String, Fail> {
    id.parse::<uuid::Uuid>()
        .map(|u| u.to_string())
        .map_err(|_| not_found(id))
}

fn normal_id(id: &str) -> String {
    id.parse::<uuid::Uuid>()
        .map(|u| u.to_string())
        .unwrap_or_else(|_| id.to_string())
}

/// The matching resources of one kind, rendered (all of them: paging happens after filtering).
async fn matching(
    state: &AppState,
    t: &Tenant,
    kind: ResourceKind,
    f: &Filter,
    members: bool,
) -> Result<Vec<Value>, Fail> {
    let mut db = state.store.handle().await?;
    let mut out = Vec::new();
    match kind {
        ResourceKind::User => {
            let rows = match user_lookup(f) {
                Some(by) => users::find(&mut db, &t.scope, &by).await?,
                None => users::all(&mut db, &t.scope).await?,
            };
            for row in &rows {
                let v = render_user(t, row);
                if f.matches(kind, &v) {
                    out.push(v);
                }
            }
        }
        ResourceKind::Group => {
            let rows = match group_lookup(f) {
                Some(by) => groups::find(&mut db, &t.scope, &by).await?,
                None => groups::all(&mut db, &t.scope).await?,
            };
            for row in &rows {
                let m = if members {
                    Some(groups::members(&mut db, &t.scope, &row.id).await?)
                } else {
                    None
                };
                let v = render_group(t, row, m.as_deref());
                if f.matches(kind, &v) {
                    out.push(v);
                }
            }
        }
    }
    Ok(out)
}

/// One page of resources of a kind, and the total.
async fn page(
    state: &AppState,
    t: &Tenant,
    kind: ResourceKind,
    p: &Params,
    f: Option<&Filter>,
) -> Result<(usize, Vec<Value>), Fail> {
    let skip = p.start_index - 1;
    if let Some(f) = f {
        let all = matching(state, t, kind, f, p.wants_members()).await?;
        let total = all.len();
        return Ok((total, all.into_iter().skip(skip).take(p.count).collect()));
    }
    let mut db = state.store.handle().await?;
    let (offset, limit) = (skip as i64, p.count as i64);
    match kind {
        ResourceKind::User => {
            let total = users::count(&mut db, &t.scope).await? as usize;
            let rows = if limit == 0 {
                Vec::new()
            } else {
                users::page(&mut db, &t.scope, offset, limit).await?
            };
            Ok((total, rows.iter().map(|r| render_user(t, r)).collect()))
        }
        ResourceKind::Group => {
            let total = groups::count(&mut db, &t.scope).await? as usize;
            let rows = if limit == 0 {
                Vec::new()
            } else {
                groups::page(&mut db, &t.scope, offset, limit).await?
            };
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let m = if p.wants_members() {
                    Some(groups::members(&mut db, &t.scope, &row.id).await?)
                } else {
                    None
                };
                out.push(render_group(t, row, m.as_deref()));
            }
            Ok((total, out))
        }
    }
}

pub async fn list(
    state: &AppState,
    t: &Tenant,
    kind: ResourceKind,
    p: &Params,
) -> Result<Response, Fail> {
    let f = parse_filter(p)?;
    let (total, items) = page(state, t, kind, p, f.as_ref()).await?;
    let items = items.iter().map(|v| p.project(kind, v)).collect();
    Ok(list_response(total, p.start_index, items))
}

/// `POST /.search` at the root: Users then Groups, paged together.
pub async fn search_all(state: &AppState, t: &Tenant, body: &Value) -> Result<Response, Fail> {
    let p = Params::from_search(body)?;
    let skip = p.start_index - 1;
    let (total, items) = match parse_filter(&p)? {
        Some(f) => {
            let mut all = Vec::new();
            for kind in [ResourceKind::User, ResourceKind::Group] {
                let v = matching(state, t, kind, &f, p.wants_members()).await?;
                all.extend(v.into_iter().map(|v| (kind, v)));
            }
            let total = all.len();
            (
                total,
                all.into_iter().skip(skip).take(p.count).collect::<Vec<_>>(),
            )
        }
        // Without a filter the page is cut in the database: the users' part, then the groups' part.
        None => {
            let users_page = Params {
                start_index: skip + 1,
                ..p.clone()
            };
            let (users_total, users) =
                page(state, t, ResourceKind::User, &users_page, None).await?;
            let groups_page = Params {
                start_index: skip.saturating_sub(users_total) + 1,
                count: p.count - users.len(),
                ..p.clone()
            };
            let (groups_total, groups) =
                page(state, t, ResourceKind::Group, &groups_page, None).await?;
            let items = users
                .into_iter()
                .map(|v| (ResourceKind::User, v))
                .chain(groups.into_iter().map(|v| (ResourceKind::Group, v)))
                .collect();
            (users_total + groups_total, items)
        }
    };
    let items = items
        .into_iter()
        .map(|(kind, v)| p.project(kind, &v))
        .collect();
    Ok(list_response(total, p.start_index, items))
}

pub fn not_found(id: &str) -> Fail {
    Fail::Scim(ScimError::not_found(format!("Resource {id} not found")))
}

pub async fn get(
    state: &AppState,
    t: &Tenant,
    kind: ResourceKind,
    id: &str,
    p: &Params,
) -> Result<Response, Fail> {
    let mut db = state.store.handle().await?;
    let v = match kind {
        ResourceKind::User => {
            let uid = id.parse().map_err(|_| not_found(id))?;
            let row = users::get(&mut db, &t.scope, uid)
                .await?
                .ok_or_else(|| not_found(id))?;
            render_user(t, &row)
        }
        ResourceKind::Group => {
            let gid = group_id(id)?;
            let row = groups::get(&mut db, &t.scope, &gid)
                .await?
                .ok_or_else(|| not_found(id))?;
            let m = if p.wants_members() {
                Some(groups::members(&mut db, &t.scope, &row.id).await?)
            } else {
                None
            };
            render_group(t, &row, m.as_deref())
        }
    };
    Ok(json(StatusCode::OK, &p.project(kind, &v)))
}
