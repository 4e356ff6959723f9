//! Account Managers: the partner's two tabs (Account Managers, Administrators), convert, upgrade, and account assignment for one or several managers.

use askama::Template;
use axum::Router;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use crate::api::json::{Body, Params};
use crate::api::managers::{self as api, AccountOverview, Assignment, ManagerOut, Selection};
use crate::error::ApiError;
use crate::state::AppState;

use super::form::Errors;
use super::session::{Console, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/managers", get(list).post(selection))
        .route("/console/managers/assign", get(assign_page).post(assign))
}

/// A form error the page shows above its table, or the error page for anything else.
fn form_error(e: ApiError) -> Result<(StatusCode, String), ApiError> {
    let status = e.status();
    let errors = Errors::from_api(e, &[], None)?;
    Ok((status, errors.general.unwrap_or_default()))
}

fn date(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

async fn managers_of(
    state: &AppState,
    console: &Console,
    administrators: bool,
    q: Option<String>,
) -> Result<Vec<ManagerOut>, ApiError> {
    let kind = if administrators {
        "administrators"
    } else {
        "managers"
    };
    let r = api::list_managers(
        State(state.clone()),
        console.caller.clone(),
        Params(api::ListQuery {
            kind: Some(kind.into()),
            q,
        }),
    )
    .await?;
    Ok(r.0)
}

// --- the two tabs ----------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub email: String,
    pub modified: String,
    pub modified_by: String,
    pub managed: usize,
    /// The signed-in administrator's own entry: no checkbox.
    pub me: bool,
}

#[derive(Template)]
#[template(path = "console/managers/list.html")]
struct ListPage {
    shell: Shell,
    administrators: bool,
    q: String,
    managers_count: usize,
    administrators_count: usize,
    rows: Vec<Row>,
    error: Option<String>,
}

impl ListPage {
    fn tab(&self) -> &'static str {
        if self.administrators {
            "administrators"
        } else {
            "managers"
        }
    }
}

fn row(console: &Console, m: ManagerOut) -> Row {
    let me = m.user.id == console.caller.principal.user_id.to_string();
    Row {
        me,
        modified: date(&m.user.modified_at).to_string(),
        modified_by: m.user.modified_by,
        managed: m.managed_accounts,
        email: m.user.email,
        name: m.user.display_name,
        id: m.user.id,
    }
}

async fn list_page(
    state: &AppState,
    console: &Console,
    administrators: bool,
    q: String,
    notice: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Page {
    let search = Some(q.clone()).filter(|s| !s.trim().is_empty());
    let managers = or_fail(
        console,
        managers_of(state, console, false, search.clone()).await,
    )?;
    let admins = or_fail(console, managers_of(state, console, true, search).await)?;
    let (managers_count, administrators_count) = (managers.len(), admins.len());
    let shown = if administrators { admins } else { managers };
    let rows = shown.into_iter().map(|m| row(console, m)).collect();
    let shell =
        Shell::new(console, "Account Managers", Section::AccountManagers, None).with_notice(notice);
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    Ok(render(
        status,
        &ListPage {
            shell,
            administrators,
            q,
            managers_count,
            administrators_count,
            rows,
            error,
        },
    ))
}

async fn list(State(state): State<AppState>, console: Console, Query(q): Query<ListQuery>) -> Page {
    let administrators = q.tab.as_deref() == Some("administrators");
    list_page(
        &state,
        &console,
        administrators,
        q.q.clone().unwrap_or_default(),
        q.notice.as_deref(),
        None,
    )
    .await
}

#[derive(Template)]
#[template(path = "console/managers/confirm.html")]
struct ConfirmPage {
    shell: Shell,
    heading: &'static str,
    text: String,
    names: Vec<String>,
    button: &'static str,
    cancel: String,
    carry: Vec<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct SelectionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    confirmed: Option<String>,
}

/// The list's buttons: Manage Selected (to the assignment page), Convert Selected and Upgrade Selected (a
/// confirmation first, then the API).
async fn selection(State(state): State<AppState>, posted: Posted<SelectionForm>) -> Page {
    let users = posted.all("user");
    let Posted { console, form, .. } = posted;
    let (administrators, heading, text, button, notice) = match form.action.as_str() {
        "manage" => (false, "", "", "", ""),
        "convert" => (
            true,
            "Convert To Account Manager(s)?",
            "The selected administrators become Account Managers: they reach only the customer accounts \
             assigned to them (none at first).",
            "Convert",
            "managers-converted",
        ),
        "upgrade" => (
            false,
            "Confirm Upgrade To Administrator(s)?",
            "The selected Account Managers become Administrators, with no restrictions: they reach every \
             customer account.",
            "Confirm",
            "managers-upgraded",
        ),
        other => {
            return Err(fail(
                Some(&console),
                ApiError::bad("action", format!("unknown action {other:?}")),
            ));
        }
    };
    if users.is_empty() {
        return list_page(
            &state,
            &console,
            administrators,
            String::new(),
            None,
            Some((
                StatusCode::BAD_REQUEST,
                "Select at least one user first.".into(),
            )),
        )
        .await;
    }
    if form.action == "manage" {
        return Ok(see_other(&assign_link(&users, None, None)));
    }
    if form.confirmed.is_none() {
        // The API is asked for the names so the dialog says who changes (and refuses strangers early).
        let all = or_fail(
            &console,
            managers_of(&state, &console, administrators, None).await,
        )?;
        let names = users
            .iter()
            .map(|id| {
                all.iter()
                    .find(|m| &m.user.id == id)
                    .map(|m| format!("{} ({})", m.user.display_name, m.user.email))
                    .unwrap_or_else(|| id.clone())
            })
            .collect();
        let carry = std::iter::once(("action".to_string(), form.action.clone()))
            .chain(std::iter::once(("confirmed".to_string(), "1".to_string())))
            .chain(users.iter().map(|u| ("user".to_string(), u.clone())))
            .collect();
        let shell = Shell::new(&console, heading, Section::AccountManagers, None);
        return Ok(render(
            StatusCode::OK,
            &ConfirmPage {
                shell,
                heading,
                text: text.into(),
                names,
                button,
                cancel: format!(
                    "/console/managers?tab={}",
                    if administrators {
                        "administrators"
                    } else {
                        "managers"
                    }
                ),
                carry,
            },
        ));
    }
    let sel = Selection {
        user_ids: users.clone(),
    };
    let r = if administrators {
        api::convert(State(state.clone()), console.caller.clone(), Body(sel)).await
    } else {
        api::upgrade(State(state.clone()), console.caller.clone(), Body(sel)).await
    };
    match r {
        // Converted users move to the Account Managers tab, upgraded ones to Administrators.
        Ok(_) => Ok(see_other(&format!(
            "/console/managers?tab={}&notice={notice}",
            if administrators {
                "managers"
            } else {
                "administrators"
            }
        ))),
        Err(e) => {
            let error = or_fail(&console, form_error(e))?;
            list_page(
                &state,
                &console,
                administrators,
                String::new(),
                None,
                Some(error),
            )
            .await
        }
    }
}

// --- assignment ------------------------------------------------------------------------------------------

/// `/console/managers/assign?manager=…&manager=…[&tab=…][&notice=…]`.
fn assign_link(managers: &[String], tab: Option<&str>, notice: Option<&str>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for m in managers {
        s.append_pair("manager", m);
    }
    if let Some(t) = tab {
        s.append_pair("tab", t);
    }
    if let Some(n) = notice {
        s.append_pair("notice", n);
    }
    format!("/console/managers/assign?{}", s.finish())
}

pub struct Tab {
    pub key: &'static str,
    pub label: String,
    pub href: String,
    pub current: bool,
}

pub struct AccountLine {
    pub id: String,
    pub name: String,
    pub number: i64,
    pub total: i64,
    pub selected: usize,
    /// Which of the chosen managers have it, by name.
    pub selected_names: String,
}

#[derive(Template)]
#[template(path = "console/managers/assign.html")]
struct AssignPage {
    shell: Shell,
    heading: String,
    /// The chosen managers: (id, name).
    managers: Vec<(String, String)>,
    names: String,
    tabs: Vec<Tab>,
    tab: &'static str,
    rows: Vec<AccountLine>,
    q: String,
    may_assign: bool,
    may_unassign: bool,
    error: Option<String>,
}

#[derive(Default)]
struct AssignQuery {
    managers: Vec<String>,
    tab: Option<String>,
    q: String,
    notice: Option<String>,
}

fn parse_assign_query(raw: Option<&str>) -> AssignQuery {
    let mut out = AssignQuery::default();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "manager" if !out.managers.iter().any(|m| *m == v) => {
                out.managers.push(v.into_owned());
            }
            "tab" => out.tab = Some(v.into_owned()),
            "q" => out.q = v.into_owned(),
            "notice" => out.notice = Some(v.into_owned()),
            _ => {}
        }
    }
    out
}

fn tab_key(raw: Option<&str>) -> &'static str {
    match raw {
        Some("some") => "some",
        Some("none") => "none",
        _ => "all",
    }
}

async fn assign_render(
    state: &AppState,
    console: &Console,
    q: &AssignQuery,
    error: Option<(StatusCode, String)>,
) -> Page {
    if q.managers.is_empty() {
        return Ok(see_other("/console/managers?tab=managers"));
    }
    let overview: Vec<AccountOverview> = or_fail(
        console,
        api::accounts_overview(
            State(state.clone()),
            console.caller.clone(),
            Params(api::OverviewQuery {
                user_ids: q.managers.join(","),
            }),
        )
        .await,
    )?
    .0;
    let known = or_fail(console, managers_of(state, console, false, None).await)?;
    let name_of = |id: &str| {
        known
            .iter()
            .find(|m| m.user.id == id)
            .map(|m| m.user.display_name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let managers: Vec<(String, String)> = q
        .managers
        .iter()
        .map(|id| (id.clone(), name_of(id)))
        .collect();
    let one = managers.len() == 1;
    let tab = tab_key(q.tab.as_deref());
    let tab = if one && tab == "some" { "all" } else { tab };
    let count = |key: &str| overview.iter().filter(|a| a.assigned_to == key).count();
    let keys: &[&'static str] = if one {
        &["all", "none"]
    } else {
        &["all", "some", "none"]
    };
    let tabs = keys
        .iter()
        .map(|k| {
            let label = match (*k, one) {
                ("all", true) => "Accounts assigned",
                ("all", false) => "Accounts assigned to all",
                ("some", _) => "Accounts assigned to some",
                _ => "Accounts not assigned",
            };
            Tab {
                key: k,
                label: format!("{label} ({})", count(k)),
                href: assign_link(&q.managers, Some(k), None),
                current: *k == tab,
            }
        })
        .collect();
    let needle = q.q.trim().to_lowercase();
    let rows = overview
        .iter()
        .filter(|a| a.assigned_to == tab)
        .filter(|a| {
            needle.is_empty()
                || a.name.to_lowercase().contains(&needle)
                || a.number.to_string() == needle
        })
        .map(|a| AccountLine {
            id: a.id.clone(),
            name: a.name.clone(),
            number: a.number,
            total: a.total_managers,
            selected: a.selected_managers.len(),
            selected_names: a
                .selected_managers
                .iter()
                .map(|id| name_of(id))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let names = managers
        .iter()
        .map(|(_, n)| n.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let heading = if one {
        format!("Account Managers > {names}")
    } else {
        format!("Account Managers > Manage ({} Selected)", managers.len())
    };
    let shell = Shell::new(console, heading.clone(), Section::AccountManagers, None)
        .with_notice(q.notice.as_deref());
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    Ok(render(
        status,
        &AssignPage {
            shell,
            heading,
            names,
            managers,
            tabs,
            tab,
            rows,
            q: q.q.clone(),
            may_assign: tab != "all",
            may_unassign: tab != "none",
            error,
        },
    ))
}

async fn assign_page(
    State(state): State<AppState>,
    console: Console,
    RawQuery(raw): RawQuery,
) -> Page {
    let q = parse_assign_query(raw.as_deref());
    assign_render(&state, &console, &q, None).await
}

#[derive(Deserialize, Default)]
pub struct AssignForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    tab: Option<String>,
}

async fn assign(State(state): State<AppState>, posted: Posted<AssignForm>) -> Page {
    let managers = posted.all("manager");
    let accounts = posted.all("account");
    let Posted { console, form, .. } = posted;
    let assign = match form.action.as_str() {
        "assign" => true,
        "unassign" => false,
        other => {
            return Err(fail(
                Some(&console),
                ApiError::bad("action", format!("unknown action {other:?}")),
            ));
        }
    };
    let tab = tab_key(form.tab.as_deref());
    let q = AssignQuery {
        managers: managers.clone(),
        tab: Some(tab.into()),
        ..AssignQuery::default()
    };
    if accounts.is_empty() {
        return assign_render(
            &state,
            &console,
            &q,
            Some((
                StatusCode::BAD_REQUEST,
                "Select at least one account first.".into(),
            )),
        )
        .await;
    }
    let body = Assignment {
        user_ids: managers.clone(),
        account_ids: accounts,
    };
    let r = if assign {
        api::assign(State(state.clone()), console.caller.clone(), Body(body)).await
    } else {
        api::unassign(State(state.clone()), console.caller.clone(), Body(body)).await
    };
    match r {
        Ok(_) => {
            let notice = if assign {
                "accounts-assigned"
            } else {
                "accounts-unassigned"
            };
            Ok(see_other(&assign_link(&managers, Some(tab), Some(notice))))
        }
        Err(e) => {
            let error = or_fail(&console, form_error(e))?;
            assign_render(&state, &console, &q, Some(error)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assignment_query_keeps_every_manager_once() {
        let q = parse_assign_query(Some("manager=a&manager=b&manager=a&tab=some&q=x%20y"));
        assert_eq!(q.managers, vec!["a", "b"]);
        assert_eq!(q.tab.as_deref(), Some("some"));
        assert_eq!(q.q, "x y");
        let link = assign_link(&q.managers, Some("none"), Some("accounts-assigned"));
        assert_eq!(
            link,
            "/console/managers/assign?manager=a&manager=b&tab=none&notice=accounts-assigned"
        );
    }

    #[test]
    fn unknown_tabs_fall_back_to_assigned() {
        assert_eq!(tab_key(Some("zzz")), "all");
        assert_eq!(tab_key(Some("none")), "none");
    }
}
