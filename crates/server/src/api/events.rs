//! Event history: filtered, cursor-paginated queries, smart-filter facets, and streaming CSV export.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skybridge_domain::EventId;
use skybridge_domain::event::{ASSETS, Action, EventType};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::AccountScope;
use skybridge_store::Store;
use skybridge_store::events::{self as store, EventFilter, EventRow, Order};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::authorized;
use super::json::{Body, Params};
use super::page::{self, Page};
use crate::auth::Caller;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(facets))
        .routes(routes!(export_csv, export_selection))
        .routes(routes!(get_event))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventOut {
    pub id: String,
    pub actor_name: String,
    pub actor_id: String,
    pub action: String,
    pub event_type: String,
    pub asset: String,
    pub asset_id: String,
    pub date: String,
    pub properties_changed: serde_json::Value,
    pub core_details: serde_json::Value,
    pub extra_details: Option<serde_json::Value>,
    pub tags: serde_json::Value,
}

fn out(r: EventRow) -> EventOut {
    let json = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    EventOut {
        date: rfc3339(r.occurred_at),
        properties_changed: json(&r.properties_changed),
        core_details: json(&r.core_details),
        extra_details: r.extra_details.as_deref().map(json),
        tags: json(&r.tags),
        id: r.id,
        actor_name: r.actor_name,
        actor_id: r.actor_id,
        action: r.action,
        event_type: r.event_type,
        asset: r.asset,
        asset_id: r.asset_id,
    }
}

/// Filters; several values of one filter are comma-separated and match any of them.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FilterQuery {
    /// e.g. `User,Account`.
    pub asset: Option<String>,
    /// e.g. `Create,Delete`.
    pub action: Option<String>,
    /// Admin, MiVB, Service Delivery.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, inclusive.
    pub to: Option<String>,
    /// Every listed tag must be on the event.
    pub tag: Option<String>,
    /// Event ids (for exporting a selection).
    pub ids: Option<String>,
    /// `desc` (newest first, default) or `asc`.
    pub order: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn split(raw: &Option<String>) -> Vec<String> {
    raw.as_deref()
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

const MAX_IDS: usize = 1000;

fn filter(q: &FilterQuery) -> ApiResult<(EventFilter, Order)> {
    let mut assets = Vec::new();
    for a in split(&q.asset) {
        let known = ASSETS
            .iter()
            .find(|x| x.eq_ignore_ascii_case(&a))
            .ok_or_else(|| {
                ApiError::bad(
                    "asset",
                    format!("unknown asset {a:?}; one of: {}", ASSETS.join(", ")),
                )
            })?;
        assets.push((*known).to_string());
    }
    let mut actions = Vec::new();
    for a in split(&q.action) {
        actions.push(
            Action::parse(&a)
                .ok_or_else(|| ApiError::bad("action", format!("unknown action {a:?}")))?
                .as_str()
                .to_string(),
        );
    }
    let mut event_types = Vec::new();
    for t in split(&q.event_type) {
        event_types.push(
            EventType::parse(&t)
                .ok_or_else(|| ApiError::bad("type", format!("unknown event type {t:?}")))?
                .as_str()
                .to_string(),
        );
    }
    let time = |field: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                parse_rfc3339(s).ok_or_else(|| {
                    ApiError::bad(
                        field,
                        format!("{field} must be an RFC 3339 time such as 2024-08-14T17:16:57Z"),
                    )
                })
            })
            .transpose()
    };
    let from = time("from", &q.from)?;
    let to = time("to", &q.to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad("from", "from is after to"));
    }
    let ids = split(&q.ids);
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad("ids", format!("at most {MAX_IDS} event ids")));
    }
    if let Some(bad) = ids.iter().find(|i| i.parse::<EventId>().is_err()) {
        return Err(ApiError::bad("ids", format!("{bad:?} is not an event id")));
    }
    let order = match q.order.as_deref() {
        None | Some("desc") => Order::NewestFirst,
        Some("asc") => Order::OldestFirst,
        Some(o) => {
            return Err(ApiError::bad(
                "order",
                format!("unknown order {o:?}; use asc or desc"),
            ));
        }
    };
    let f = EventFilter {
        ids,
        assets,
        actions,
        event_types,
        actor_id: q.actor_id.clone().filter(|s| !s.is_empty()),
        from,
        to,
        tags: split(&q.tag),
    };
    Ok((f, order))
}

/// Query the account's event history.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/events", tag = "events",
    params(("account" = String, Path, description = "Account UUID or number"), FilterQuery),
    responses((status = 200, body = Page<EventOut>), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FilterQuery>,
) -> ApiResult<Json<Page<EventOut>>> {
    let (f, order) = filter(&q)?;
    let limit = page::limit(q.limit)?;
    let after: Option<(i64, String)> = page::decode(q.cursor.as_deref())?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Support, Verb::View).await?;
    let rows = store::query(&mut db, &scope, &f, order, after, limit + 1).await?;
    Ok(Json(page::paginate(
        rows,
        limit,
        |r| (r.occurred_at, r.id.clone()),
        |r| Ok(out(r)),
    )?))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FacetValue {
    pub value: String,
    pub count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FacetsOut {
    pub asset: Vec<FacetValue>,
    pub action: Vec<FacetValue>,
    #[serde(rename = "type")]
    pub event_type: Vec<FacetValue>,
}

/// The smart filter: for each filter, the values still possible given the others.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/events/facets", tag = "events",
    params(("account" = String, Path, description = "Account UUID or number"), FilterQuery),
    responses((status = 200, body = FacetsOut)))]
pub(crate) async fn facets(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FilterQuery>,
) -> ApiResult<Json<FacetsOut>> {
    let (f, _) = filter(&q)?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Support, Verb::View).await?;
    let facets = store::facets(&mut db, &scope, &f).await?;
    let conv = |v: Vec<(String, i64)>| {
        v.into_iter()
            .map(|(value, count)| FacetValue { value, count })
            .collect()
    };
    Ok(Json(FacetsOut {
        asset: conv(facets.assets),
        action: conv(facets.actions),
        event_type: conv(facets.event_types),
    }))
}

/// Read one event.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/events/{event}", tag = "events",
    params(("account" = String, Path, description = "Account UUID or number"), ("event" = String, Path, description = "Event id")),
    responses((status = 200, body = EventOut), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, event)): Path<(String, String)>,
) -> ApiResult<Json<EventOut>> {
    let id: EventId = event.parse().map_err(|_| ApiError::NotFound("event"))?;
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Support, Verb::View).await?;
    Ok(Json(out(store::get(&mut db, &scope, id)
        .await?
        .ok_or(ApiError::NotFound("event"))?)))
}

pub const CSV_HEADER: [&str; 11] = [
    "Event ID",
    "Actor Name",
    "Actor ID",
    "Action",
    "Event Type",
    "Asset",
    "Event Date",
    "Properties Changed",
    "Core Details",
    "Extra Details",
    "Log Tags",
];

/// Spreadsheets execute cells that start with these; a leading apostrophe makes them text. A control character
/// stored before they were refused at the edge (SQLite kept NUL from SCIM documents) is written as U+FFFD: many
/// CSV readers end a cell, or the file, at a NUL.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    use skybridge_domain::validate::is_forbidden_control;
    let cell = if cell.chars().any(|c| is_forbidden_control(c, true)) {
        std::borrow::Cow::Owned(
            cell.chars()
                .map(|c| {
                    if is_forbidden_control(c, true) {
                        '\u{FFFD}'
                    } else {
                        c
                    }
                })
                .collect(),
        )
    } else {
        std::borrow::Cow::Borrowed(cell)
    };
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        cell
    }
}

fn csv_rows(rows: &[EventRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 256));
    for r in rows {
        w.write_record([
            csv_safe(&r.id).as_ref(),
            csv_safe(&r.actor_name).as_ref(),
            csv_safe(&r.actor_id).as_ref(),
            csv_safe(&r.action).as_ref(),
            csv_safe(&r.event_type).as_ref(),
            csv_safe(&r.asset).as_ref(),
            csv_safe(&rfc3339(r.occurred_at)).as_ref(),
            csv_safe(&r.properties_changed).as_ref(),
            csv_safe(&r.core_details).as_ref(),
            csv_safe(r.extra_details.as_deref().unwrap_or("")).as_ref(),
            csv_safe(&r.tags).as_ref(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Rows per CSV chunk sent to the client (about 200 KiB).
const EXPORT_BATCH: usize = 1000;

/// Streams the events matching the filter from one streaming query, encoding CSV chunk by chunk: memory
/// stays constant however many rows there are, and a slow client only holds back the producer through the
/// bounded channel.
async fn produce(
    store: Store,
    scope: AccountScope,
    f: EventFilter,
    order: Order,
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
) {
    let mut header = csv::Writer::from_writer(Vec::new());
    let head = header
        .write_record(CSV_HEADER)
        .ok()
        .and_then(|_| header.into_inner().ok())
        .unwrap_or_default();
    if tx.send(Ok(head)).await.is_err() {
        return;
    }
    // Reading rows and encoding CSV run as two tasks joined by a small channel, so both cores work.
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Vec<EventRow>>(2);
    let reader = tokio::spawn(async move {
        store::stream_store(&store, &scope, &f, order, EXPORT_BATCH, rows_tx).await
    });
    while let Some(rows) = rows_rx.recv().await {
        let chunk = csv_rows(&rows).map_err(std::io::Error::other);
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            return;
        }
    }
    let result = match reader.await {
        Ok(r) => r,
        Err(e) => Err(skybridge_store::StoreError::Corrupt(e.to_string())),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "event export failed");
        let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
    }
}

/// Export events as CSV: the selected `ids`, or everything matching the filters.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/events/export.csv", tag = "events",
    params(("account" = String, Path, description = "Account UUID or number"), FilterQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = crate::error::Problem)))]
async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FilterQuery>,
) -> ApiResult<Response> {
    let (f, order) = filter(&q)?;
    stream_csv(&state, &caller, &account, f, order).await
}

async fn stream_csv(
    state: &AppState,
    caller: &Caller,
    account: &str,
    f: EventFilter,
    order: Order,
) -> ApiResult<Response> {
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, caller, account, Feature::Support, Verb::View).await?;
    drop(db);
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(produce(state.store.clone(), scope, f, order, tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let filename = format!("attachment; filename=\"events-{}.csv\"", target.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSelection {
    /// The selected event ids (at most 1000).
    pub ids: Vec<String>,
}

/// Export a selection of events as CSV (the console's "Export (n)"); for selections too long for a URL.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/events/export.csv", tag = "events", request_body = ExportSelection,
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn export_selection(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Body(sel): Body<ExportSelection>,
) -> ApiResult<Response> {
    if sel.ids.is_empty() {
        return Err(ApiError::bad("ids", "select at least one event"));
    }
    let q = FilterQuery {
        ids: Some(sel.ids.join(",")),
        ..FilterQuery::default()
    };
    let (f, order) = filter(&q)?;
    stream_csv(&state, &caller, &account, f, order).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for bad in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx"] {
            assert!(csv_safe(bad).starts_with('\''), "{bad}");
        }
        assert_eq!(csv_safe("Create"), "Create");
    }

    #[test]
    fn stored_control_characters_are_replaced() {
        assert_eq!(
            csv_safe("a\u{0}b\u{1b}c\u{7f}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        assert_eq!(csv_safe("one\ntwo"), "one\ntwo");
        assert_eq!(csv_safe("\u{0}=1"), "\u{FFFD}=1");
    }
}
