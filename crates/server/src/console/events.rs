//! Event History: the account's audit events with filters from the facets endpoint, column choice, details and CSV export.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::permissions::{Feature, Verb};

use crate::api::events::{self as api, EventOut, ExportSelection, FacetValue, FilterQuery};
use crate::api::json::{Body, Params};
use crate::error::ApiError;
use crate::state::AppState;

use super::session::{Console, InAccount, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, or_fail, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/a/{account}/events", get(list))
        .route("/console/a/{account}/events/export", post(export))
        .route("/console/a/{account}/events/{event}", get(details))
        .route(
            "/console/a/{account}/events/{event}/export.csv",
            get(export_one),
        )
}

/// Every column the table can show, in the order the chooser lists them.
pub const COLUMNS: [(&str, &str); 11] = [
    ("event_id", "Event ID"),
    ("actor_name", "Actor Name"),
    ("actor_id", "Actor ID"),
    ("action", "Action"),
    ("asset", "Asset"),
    ("date", "Event Date"),
    ("type", "Event Type"),
    ("properties", "Properties Changed"),
    ("core", "Core Details"),
    ("tags", "Log Tags"),
    ("extra", "Extra Details"),
];
const DEFAULT_COLUMNS: [&str; 6] = [
    "actor_name",
    "action",
    "asset",
    "date",
    "properties",
    "core",
];
const PAGE_SIZE: i64 = 50;

fn column_label(key: &str) -> &'static str {
    COLUMNS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The table's query: filters, order, paging and columns. Read from the raw pairs so that the column
/// chooser's repeated `col` checkboxes and the `cols=` list both work.
#[derive(Debug, Default, Clone)]
pub struct EventsQuery {
    asset: String,
    action: String,
    event_type: String,
    actor_id: String,
    from: String,
    to: String,
    /// `asc` or empty (newest first).
    order: String,
    cursor: Option<String>,
    limit: Option<i64>,
    columns: Vec<String>,
}

impl EventsQuery {
    fn parse(pairs: &[(String, String)]) -> EventsQuery {
        let one = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        let mut chosen: Vec<String> = if pairs.iter().any(|(k, _)| k == "col") {
            pairs
                .iter()
                .filter(|(k, _)| k == "col")
                .map(|(_, v)| v.clone())
                .collect()
        } else {
            one("cols")
                .split(',')
                .map(|c| c.trim().to_string())
                .collect()
        };
        chosen.retain(|c| COLUMNS.iter().any(|(k, _)| k == c));
        let mut columns: Vec<String> = Vec::new();
        for c in chosen {
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
        if columns.is_empty() {
            columns = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
        }
        let order = if one("order") == "asc" {
            "asc".to_string()
        } else {
            String::new()
        };
        EventsQuery {
            asset: one("asset"),
            action: one("action"),
            event_type: one("type"),
            actor_id: one("actor_id"),
            from: one("from"),
            to: one("to"),
            order,
            cursor: Some(one("cursor")).filter(|c| !c.is_empty()),
            limit: one("limit").parse::<i64>().ok().filter(|l| *l > 0),
            columns,
        }
    }

    fn is_default_columns(&self) -> bool {
        self.columns.iter().map(String::as_str).eq(DEFAULT_COLUMNS)
    }

    fn cols(&self) -> String {
        self.columns.join(",")
    }

    fn filtered(&self) -> bool {
        [
            &self.asset,
            &self.action,
            &self.event_type,
            &self.actor_id,
            &self.from,
            &self.to,
        ]
        .iter()
        .any(|v| !v.is_empty())
    }

    /// The API's filter for this query (`with_paging`: order, limit and cursor too).
    fn api_filter(&self, with_paging: bool) -> FilterQuery {
        let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        FilterQuery {
            asset: opt(&self.asset),
            action: opt(&self.action),
            event_type: opt(&self.event_type),
            actor_id: opt(&self.actor_id),
            from: opt(&self.from).map(|t| to_rfc3339(&t, false)),
            to: opt(&self.to).map(|t| to_rfc3339(&t, true)),
            order: with_paging.then(|| opt(&self.order)).flatten(),
            limit: with_paging.then_some(self.limit.unwrap_or(PAGE_SIZE)),
            cursor: with_paging.then(|| self.cursor.clone()).flatten(),
            ..FilterQuery::default()
        }
    }

    /// The link to the table with this query changed by `edit` (paging always starts over unless `edit` sets
    /// a cursor).
    fn link_with(&self, base: &str, edit: impl FnOnce(&mut EventsQuery)) -> String {
        let mut q = self.clone();
        q.cursor = None;
        edit(&mut q);
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("asset", &q.asset),
            ("action", &q.action),
            ("type", &q.event_type),
            ("actor_id", &q.actor_id),
            ("from", &q.from),
            ("to", &q.to),
            ("order", &q.order),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(l) = q.limit {
            s.append_pair("limit", &l.to_string());
        }
        if !q.is_default_columns() {
            s.append_pair("cols", &q.cols());
        }
        if let Some(c) = &q.cursor {
            s.append_pair("cursor", c);
        }
        let qs = s.finish();
        if qs.is_empty() {
            format!("{base}/events")
        } else {
            format!("{base}/events?{qs}")
        }
    }
}

/// A `datetime-local` value (`2024-08-14T17:16`, seconds optional) read as UTC; an RFC 3339 time as it is.
/// Anything else goes to the API unchanged, which names the field it cannot read.
fn to_rfc3339(raw: &str, end: bool) -> String {
    if crate::clock::parse_rfc3339(raw).is_some() {
        return raw.to_string();
    }
    let t = raw.replacen(' ', "T", 1);
    match t.len() {
        // 2024-08-14: the whole day.
        10 => format!("{t}T{}Z", if end { "23:59:59" } else { "00:00:00" }),
        16 => format!("{t}:{}Z", if end { "59" } else { "00" }),
        19 => format!("{t}Z"),
        _ => raw.to_string(),
    }
}

/// The table's date: "2024-08-14, 17:16:57" (UTC).
pub fn table_date(rfc: &str) -> String {
    match (rfc.get(..10), rfc.get(11..19)) {
        (Some(d), Some(t)) => format!("{d}, {t}"),
        _ => rfc.to_string(),
    }
}

/// The details window's date: "7/10/2024, 3:56:30 PM" (UTC).
pub fn details_date(rfc: &str) -> String {
    let num = |a: usize, b: usize| rfc.get(a..b).and_then(|s| s.parse::<u32>().ok());
    match (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
            let (h12, half) = match h {
                0 => (12, "AM"),
                1..=11 => (h, "AM"),
                12 => (12, "PM"),
                _ => (h - 12, "PM"),
            };
            format!("{mo}/{d}/{y}, {h12}:{mi:02}:{s:02} {half} UTC")
        }
        _ => rfc.to_string(),
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn pretty(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

fn cell(e: &EventOut, column: &str) -> String {
    match column {
        "event_id" => e.id.clone(),
        "actor_name" => e.actor_name.clone(),
        "actor_id" => e.actor_id.clone(),
        "action" => e.action.clone(),
        "asset" => e.asset.clone(),
        "date" => table_date(&e.date),
        "type" => e.event_type.clone(),
        "properties" => compact(&e.properties_changed),
        "core" => compact(&e.core_details),
        "tags" => compact(&e.tags),
        "extra" => e.extra_details.as_ref().map(compact).unwrap_or_default(),
        _ => String::new(),
    }
}

pub struct Row {
    pub id: String,
    pub actor_name: String,
    pub cells: Vec<String>,
}

/// An active filter as a chip: "Actor ID is testID ×".
pub struct Chip {
    pub text: String,
    pub remove: String,
}

/// A filter's choices: the facet values still possible, and the current choice.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct ColumnChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub shown: bool,
    pub up: Option<String>,
    pub down: Option<String>,
}

#[derive(Template)]
#[template(path = "console/events/list.html")]
struct ListPage {
    shell: Shell,
    q: EventsQuery,
    headers: Vec<(String, &'static str)>,
    rows: Vec<Row>,
    /// The link to the next page (the "Load more" link and the infinite-scroll sentinel).
    next: Option<String>,
    /// "Failed to get events", with what the API said when the filter itself is wrong.
    failed: Option<String>,
    chips: Vec<Chip>,
    assets: Vec<Choice>,
    actions: Vec<Choice>,
    types: Vec<Choice>,
    column_choices: Vec<ColumnChoice>,
    sort_link: String,
    clear_link: String,
    reset_columns_link: String,
    here: String,
    /// The Add Filter panel is open: only then are the facets worked out (a GROUP BY over the account's
    /// events, hundreds of milliseconds on a large account, which the table alone does not need).
    filter_open: bool,
}

impl ListPage {
    fn filter_link(&self) -> String {
        let sep = if self.here.contains('?') { '&' } else { '?' };
        format!("{}{sep}filter=1", self.here)
    }

    fn width(&self) -> usize {
        self.headers.len() + 1
    }

    fn aria_sort(&self) -> &'static str {
        if self.q.order == "asc" {
            "ascending"
        } else {
            "descending"
        }
    }
}

fn choices(facets: &[FacetValue], current: &str) -> Vec<Choice> {
    let mut out: Vec<Choice> = facets
        .iter()
        .map(|f| Choice {
            value: f.value.clone(),
            label: format!("{} ({})", f.value, f.count),
            selected: f.value.eq_ignore_ascii_case(current),
        })
        .collect();
    // A choice that matches nothing any more stays on offer, so the form shows what is applied.
    if !current.is_empty() && !out.iter().any(|c| c.selected) {
        out.push(Choice {
            value: current.to_string(),
            label: format!("{current} (0)"),
            selected: true,
        });
    }
    out
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Support, Verb::View)
        .await?;
    let q = EventsQuery::parse(&pairs);
    let base = format!("/console/a/{}", ctx.row.id);
    let result = api::list_events(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Params(q.api_filter(true)),
    )
    .await;
    let (rows, next, failed) = match result {
        Ok(page) => {
            let page = page.0;
            let rows = page
                .items
                .iter()
                .map(|e| Row {
                    id: e.id.clone(),
                    actor_name: e.actor_name.clone(),
                    cells: q.columns.iter().map(|c| cell(e, c)).collect(),
                })
                .collect();
            let next = page
                .next_cursor
                .map(|c| q.link_with(&base, |n| n.cursor = Some(c)));
            (rows, next, None)
        }
        Err(ApiError::BadRequest { detail, .. }) => (Vec::new(), None, Some(detail)),
        Err(e @ (ApiError::Forbidden(_) | ApiError::NotFound(_) | ApiError::Unauthorized(_))) => {
            return Err(fail(Some(&console), e));
        }
        Err(e) => {
            tracing::error!(error = %e, "console event history failed");
            (Vec::new(), None, Some(String::new()))
        }
    };
    // The smart filter: each select offers what stays possible given the other choices.
    let filter_open =
        pairs.iter().any(|(k, v)| k == "filter" && v == "1") || (q.filtered() && rows.is_empty());
    let facets = if filter_open {
        api::facets(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Params(q.api_filter(false)),
        )
        .await
        .map(|j| j.0)
        .ok()
    } else {
        None
    };
    let (assets, actions, types) = match &facets {
        Some(f) => (
            choices(&f.asset, &q.asset),
            choices(&f.action, &q.action),
            choices(&f.event_type, &q.event_type),
        ),
        None => (
            choices(&[], &q.asset),
            choices(&[], &q.action),
            choices(&[], &q.event_type),
        ),
    };
    let mut chips = Vec::new();
    for (label, value, clear) in [
        ("Asset", &q.asset, 0),
        ("Action", &q.action, 1),
        ("Event Type", &q.event_type, 2),
        ("Actor ID", &q.actor_id, 3),
        ("Event Date from", &q.from, 4),
        ("Event Date to", &q.to, 5),
    ] {
        if value.is_empty() {
            continue;
        }
        chips.push(Chip {
            text: format!("{label} is {value}"),
            remove: q.link_with(&base, |n| match clear {
                0 => n.asset.clear(),
                1 => n.action.clear(),
                2 => n.event_type.clear(),
                3 => n.actor_id.clear(),
                4 => n.from.clear(),
                _ => n.to.clear(),
            }),
        });
    }
    // The chooser lists the shown columns in their order, then the hidden ones.
    let mut ordered: Vec<&'static str> = q
        .columns
        .iter()
        .filter_map(|c| COLUMNS.iter().find(|(k, _)| k == c).map(|(k, _)| *k))
        .collect();
    let shown_count = ordered.len();
    ordered.extend(
        COLUMNS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !q.columns.iter().any(|c| c == k)),
    );
    let column_choices = ordered
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let shown = i < shown_count;
            let swap = |a: usize, b: usize| {
                q.link_with(&base, |n| {
                    n.columns.swap(a, b);
                })
            };
            ColumnChoice {
                key,
                label: column_label(key),
                shown,
                up: (shown && i > 0).then(|| swap(i, i - 1)),
                down: (shown && i + 1 < shown_count).then(|| swap(i, i + 1)),
            }
        })
        .collect();
    let headers = q
        .columns
        .iter()
        .map(|c| (c.clone(), column_label(c)))
        .collect();
    let shell = Shell::new(
        &console,
        "Event History",
        Section::EventHistory,
        Some((&ctx.target, &ctx.row)),
    );
    let status = if failed.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        sort_link: q.link_with(&base, |n| {
            n.order = if n.order == "asc" {
                String::new()
            } else {
                "asc".into()
            }
        }),
        clear_link: q.link_with(&base, |n| {
            n.asset.clear();
            n.action.clear();
            n.event_type.clear();
            n.actor_id.clear();
            n.from.clear();
            n.to.clear();
        }),
        reset_columns_link: q.link_with(&base, |n| {
            n.columns = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
        }),
        here: q.link_with(&base, |_| {}),
        filter_open,
        shell,
        headers,
        rows,
        next,
        failed,
        chips,
        assets,
        actions,
        types,
        column_choices,
        q,
    };
    Ok(render(status, &page))
}

/// A CSV answer from the API, kept out of caches.
fn attachment(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[derive(Deserialize, Default)]
pub struct NoFields {}

/// "Export (n)": the ticked events (`event` fields) as CSV, through the API's selection export.
async fn export(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<NoFields>,
) -> Page {
    let ids = posted.all("event");
    let console = posted.console;
    let ctx = console
        .account(&state, &account, Feature::Support, Verb::View)
        .await?;
    let resp = or_fail(
        &console,
        api::export_selection(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Body(ExportSelection { ids }),
        )
        .await,
    )?;
    Ok(attachment(resp))
}

async fn load_event(
    state: &AppState,
    console: &Console,
    account: &str,
    event: &str,
) -> Result<(InAccount, EventOut), Response> {
    let ctx = console
        .account(state, account, Feature::Support, Verb::View)
        .await?;
    let e = or_fail(
        console,
        api::get_event(
            State(state.clone()),
            console.caller.clone(),
            Path((ctx.row.id.clone(), event.to_string())),
        )
        .await,
    )?
    .0;
    Ok((ctx, e))
}

/// Event Details: the one event with export of it alone.
async fn export_one(
    State(state): State<AppState>,
    console: Console,
    Path((account, event)): Path<(String, String)>,
) -> Page {
    let (ctx, e) = load_event(&state, &console, &account, &event).await?;
    let resp = or_fail(
        &console,
        api::export_selection(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Body(ExportSelection { ids: vec![e.id] }),
        )
        .await,
    )?;
    Ok(attachment(resp))
}

const TABS: [(&str, &str); 4] = [
    ("core", "Core Details"),
    ("properties", "Properties Changed"),
    ("extra", "Extra Details"),
    ("tags", "Log Tags"),
];

#[derive(Deserialize, Default)]
pub struct DetailsQuery {
    #[serde(default)]
    tab: Option<String>,
}

#[derive(Template)]
#[template(path = "console/events/details.html")]
struct DetailsPage {
    shell: Shell,
    e: EventOut,
    date: String,
    tab: &'static str,
    tab_label: &'static str,
    tabs: &'static [(&'static str, &'static str)],
    content: String,
}

async fn details(
    State(state): State<AppState>,
    console: Console,
    Path((account, event)): Path<(String, String)>,
    Query(q): Query<DetailsQuery>,
) -> Page {
    let (ctx, e) = load_event(&state, &console, &account, &event).await?;
    let (tab, tab_label) = TABS
        .iter()
        .find(|(k, _)| Some(*k) == q.tab.as_deref())
        .copied()
        .unwrap_or(TABS[0]);
    let content = match tab {
        "properties" => pretty(&e.properties_changed),
        "extra" => e.extra_details.as_ref().map(pretty).unwrap_or_default(),
        "tags" => pretty(&e.tags),
        _ => pretty(&e.core_details),
    };
    let shell = Shell::new(
        &console,
        "Event Details",
        Section::EventHistory,
        Some((&ctx.target, &ctx.row)),
    );
    Ok(render(
        StatusCode::OK,
        &DetailsPage {
            shell,
            date: details_date(&e.date),
            e,
            tab,
            tab_label,
            tabs: &TABS,
            content,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn dates_as_the_table_and_the_details_show_them() {
        assert_eq!(
            table_date("2024-08-14T17:16:57.123Z"),
            "2024-08-14, 17:16:57"
        );
        assert_eq!(
            details_date("2024-07-10T15:56:30Z"),
            "7/10/2024, 3:56:30 PM UTC"
        );
        assert_eq!(
            details_date("2024-07-10T00:05:09Z"),
            "7/10/2024, 12:05:09 AM UTC"
        );
        assert_eq!(table_date("odd"), "odd");
    }

    #[test]
    fn datetime_local_values_become_rfc3339() {
        assert_eq!(
            to_rfc3339("2024-08-14T17:16", false),
            "2024-08-14T17:16:00Z"
        );
        assert_eq!(to_rfc3339("2024-08-14T17:16", true), "2024-08-14T17:16:59Z");
        assert_eq!(
            to_rfc3339("2024-08-14T17:16:57", false),
            "2024-08-14T17:16:57Z"
        );
        assert_eq!(
            to_rfc3339("2024-08-14T17:16:57Z", true),
            "2024-08-14T17:16:57Z"
        );
        assert_eq!(to_rfc3339("yesterday", false), "yesterday");
    }

    #[test]
    fn columns_come_from_cols_or_the_checkboxes_and_default_otherwise() {
        let q = EventsQuery::parse(&pairs("cols=date,event_id,bogus,date"));
        assert_eq!(q.columns, ["date", "event_id"]);
        let q = EventsQuery::parse(&pairs("col=tags&col=action&cols=date"));
        assert_eq!(q.columns, ["tags", "action"]);
        let q = EventsQuery::parse(&pairs("cols="));
        assert!(q.is_default_columns());
    }

    #[test]
    fn links_keep_the_query_and_drop_the_cursor() {
        let q = EventsQuery::parse(&pairs("actor_id=x y&cursor=abc&order=asc&cols=date"));
        let l = q.link_with("/console/a/1", |n| n.actor_id.clear());
        assert_eq!(l, "/console/a/1/events?order=asc&cols=date");
        let l = q.link_with("/console/a/1", |_| {});
        assert_eq!(l, "/console/a/1/events?actor_id=x+y&order=asc&cols=date");
    }
}
