//! Roles and Permissions: the partner's custom roles (list, new with the permission matrix, edit, duplicate, assign to accounts, delete) and an Account Admin's view of the roles its account holds.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::navigation::is_partner_staff;
use skybridge_domain::permissions::{Base, Cell, Feature, PermissionSet, Verb, cell};

use crate::api::accounts as accounts_api;
use crate::api::json::{Body, Params};
use crate::api::roles::{
    self as api, DeleteQuery, DuplicateRole, NewRole, RoleAccount, RoleOut, RolePatch,
};
use crate::error::ApiError;
use crate::state::AppState;

use super::accounts::ConfirmPage;
use super::form::{Confirm, Errors};
use super::session::{Console, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, ok, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/roles", get(list))
        .route("/console/roles/new", get(new_form).post(create))
        .route("/console/roles/{role}", get(edit).post(save))
        .route("/console/roles/{role}/duplicate", post(duplicate))
        .route(
            "/console/roles/{role}/delete",
            get(delete_page).post(delete),
        )
        .route("/console/roles/{role}/accounts", post(accounts_action))
}

const ROLE_FIELDS: &[&str] = &["name", "description", "base", "permissions"];

/// How the console names a feature row.
fn feature_label(f: Feature) -> &'static str {
    match f {
        Feature::Accounts => "Accounts",
        Feature::Account => "Account",
        Feature::Users => "Users",
        Feature::UserTemplates => "User Templates",
        Feature::Roles => "Roles and Permissions",
        Feature::Integrations => "Integrations & Apps",
        Feature::Subscriptions => "Subscriptions",
        Feature::Support => "Support",
        Feature::MivoiceBusiness => "MiVoice Business",
        Feature::CustomerCare => "Customer Care",
        Feature::Developer => "Developer",
        Feature::Orders => "Orders",
    }
}

pub fn base_label(base: &str) -> &'static str {
    match base {
        "partner" => "Partner",
        "account_admin" => "Account Admin",
        "user" => "User",
        _ => "Custom",
    }
}

fn parse_base(raw: Option<&str>) -> Base {
    match raw {
        Some("account_admin") => Base::AccountAdmin,
        _ => Base::Partner,
    }
}

/// One box of the permission matrix.
pub struct MatrixCell {
    /// `feature.verb`, the value the API takes.
    pub name: String,
    pub verb: &'static str,
    pub na: bool,
    pub fixed: bool,
    pub checked: bool,
}

pub struct MatrixRow {
    pub label: &'static str,
    pub cells: Vec<MatrixCell>,
}

/// The rows of the matrix for `base` (features with at least one applicable cell), ticked as in `set`.
fn matrix(base: Base, set: PermissionSet) -> Vec<MatrixRow> {
    Feature::ALL
        .into_iter()
        .filter(|f| {
            Verb::ALL
                .into_iter()
                .any(|v| cell(base, *f, v) != Cell::NotApplicable)
        })
        .map(|f| MatrixRow {
            label: feature_label(f),
            cells: Verb::ALL
                .into_iter()
                .map(|v| {
                    let c = cell(base, f, v);
                    MatrixCell {
                        name: format!("{}.{}", f.as_str(), v.as_str()),
                        verb: verb_label(v),
                        na: c == Cell::NotApplicable,
                        fixed: c == Cell::AlwaysOn,
                        checked: c == Cell::AlwaysOn || set.contains(f, v),
                    }
                })
                .collect(),
        })
        .collect()
}

fn verb_label(v: Verb) -> &'static str {
    match v {
        Verb::View => "VIEW",
        Verb::Add => "ADD",
        Verb::Edit => "EDIT",
        Verb::Assign => "ASSIGN",
        Verb::Delete => "DELETE",
    }
}

/// The ticked boxes of a posted matrix, as a set (unknown names are dropped; the API checks the rest).
fn ticked(names: &[String]) -> PermissionSet {
    let known: Vec<&String> = names
        .iter()
        .filter(|n| PermissionSet::from_names("permissions", std::slice::from_ref(*n)).is_ok())
        .collect();
    PermissionSet::from_names("permissions", &known).unwrap_or_default()
}

fn blank_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn date(s: &str) -> &str {
    s.get(..10).unwrap_or(s)
}

/// Who may change roles: unrestricted partner administrators holding the verb (the API decides; the console
/// only hides what would be refused).
fn may(console: &Console, verb: Verb) -> bool {
    let p = &console.caller.principal;
    is_partner_staff(p) && p.is_unrestricted_partner() && p.holds(Feature::Roles, verb)
}

// --- list ------------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

pub struct ListRow {
    pub id: String,
    pub name: String,
    pub base: &'static str,
    pub description: String,
    pub modified: String,
    pub link: bool,
}

#[derive(Template)]
#[template(path = "console/roles/list.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<ListRow>,
    may_add: bool,
    partner: bool,
}

/// The roles the caller may look at: a partner's custom roles, or the roles of an Account Admin's account.
async fn visible_roles(
    state: &AppState,
    console: &Console,
) -> Result<(bool, Vec<RoleOut>), ApiError> {
    let p = &console.caller.principal;
    if is_partner_staff(p) {
        let roles = api::list_roles(State(state.clone()), console.caller.clone()).await?;
        Ok((true, roles.0))
    } else {
        let roles = api::account_roles(
            State(state.clone()),
            console.caller.clone(),
            Path(p.home.id.to_string()),
        )
        .await?;
        Ok((false, roles.0))
    }
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let (partner, roles) = or_fail(&console, visible_roles(&state, &console).await)?;
    let rows = roles
        .into_iter()
        .map(|r| ListRow {
            link: !r.created_at.is_empty(),
            base: base_label(&r.base),
            description: r.description.unwrap_or_default(),
            modified: date(&r.modified_at).to_string(),
            name: r.name,
            id: r.id,
        })
        .collect();
    let shell = Shell::new(&console, "Roles and Permissions", Section::Roles, None)
        .with_notice(q.notice.as_deref());
    Ok(ok(&ListPage {
        shell,
        rows,
        may_add: partner && may(&console, Verb::Add),
        partner,
    }))
}

// --- new -------------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct RoleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    base: Option<String>,
    /// The base the posted matrix was drawn for.
    #[serde(default)]
    matrix_base: Option<String>,
    /// Present when "Change base" was pressed.
    #[serde(default)]
    change_base: Option<String>,
}

#[derive(Template)]
#[template(path = "console/roles/form.html")]
struct FormPage {
    shell: Shell,
    /// `None` for New Role.
    role: Option<RoleOut>,
    name: String,
    description: String,
    base: &'static str,
    rows: Vec<MatrixRow>,
    errors: Errors,
    readonly: bool,
    may_add: bool,
    may_delete: bool,
    /// The Accounts tab is offered (partner staff looking at a role of their own).
    tabs: bool,
}

impl FormPage {
    fn base_name(&self) -> &'static str {
        base_label(self.base)
    }
}

fn new_page(
    console: &Console,
    name: String,
    description: String,
    base: Base,
    set: PermissionSet,
    errors: Errors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let shell = Shell::new(console, "New Role", Section::Roles, None);
    render(
        status,
        &FormPage {
            shell,
            role: None,
            name,
            description,
            base: base.as_str(),
            rows: matrix(base, set),
            errors,
            readonly: false,
            may_add: true,
            may_delete: false,
            tabs: false,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    base: Option<String>,
}

fn refuse_add(console: &Console) -> Option<Response> {
    (!may(console, Verb::Add)).then(|| {
        fail(
            Some(console),
            ApiError::Forbidden("creating roles needs Roles ADD on a partner administrator".into()),
        )
    })
}

async fn new_form(console: Console, Query(q): Query<NewQuery>) -> Page {
    if let Some(r) = refuse_add(&console) {
        return Err(r);
    }
    let base = parse_base(q.base.as_deref());
    Ok(new_page(
        &console,
        String::new(),
        String::new(),
        base,
        PermissionSet::full(base),
        Errors::default(),
    ))
}

async fn create(State(state): State<AppState>, posted: Posted<RoleForm>) -> Page {
    let names = posted.all("permission");
    let Posted { console, form, .. } = posted;
    if let Some(r) = refuse_add(&console) {
        return Err(r);
    }
    let base = parse_base(form.base.as_deref());
    let drawn = parse_base(form.matrix_base.as_deref().or(form.base.as_deref()));
    // "Change base", or Save after picking the other base: draw the other base's matrix, every box ticked
    // (the same base keeps the boxes as they were).
    if form.change_base.is_some() || drawn != base {
        let mut errors = Errors::default();
        if form.change_base.is_none() {
            errors.general = Some(
                "The base role changed: check the permissions for the new base, then save.".into(),
            );
        }
        let set = if drawn == base {
            ticked(&names)
        } else {
            PermissionSet::full(base)
        };
        return Ok(new_page(
            &console,
            form.name,
            form.description,
            base,
            set,
            errors,
        ));
    }
    let input = NewRole {
        name: form.name.clone(),
        description: blank_none(&form.description),
        base: Some(base.as_str().into()),
        permissions: Some(names.clone()),
    };
    let r = api::create_role(State(state.clone()), console.caller.clone(), Body(input)).await;
    match r {
        Ok((_, axum::Json(role))) => Ok(see_other(&format!(
            "/console/roles/{}?notice=role-created",
            role.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, ROLE_FIELDS, Some("name")))?;
            Ok(new_page(
                &console,
                form.name,
                form.description,
                base,
                ticked(&names),
                errors,
            ))
        }
    }
}

// --- edit ------------------------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct EditQuery {
    #[serde(default)]
    tab: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

/// A role the caller may look at: a partner's own custom role, or for an Account Admin one of the roles of
/// its account.
async fn load_role(state: &AppState, console: &Console, role: &str) -> Result<RoleOut, Response> {
    if is_partner_staff(&console.caller.principal) {
        let r = api::get_role(
            State(state.clone()),
            console.caller.clone(),
            Path(role.to_string()),
        )
        .await;
        Ok(or_fail(console, r)?.0)
    } else {
        let (_, roles) = or_fail(console, visible_roles(state, console).await)?;
        roles
            .into_iter()
            .find(|r| r.id == role && !r.created_at.is_empty())
            .ok_or_else(|| fail(Some(console), ApiError::NotFound("role")))
    }
}

fn settings_page(
    console: &Console,
    role: RoleOut,
    name: String,
    description: String,
    set: PermissionSet,
    errors: Errors,
    notice: Option<&str>,
) -> Response {
    let base = role.base.parse::<Base>().unwrap_or(Base::Partner);
    let partner = is_partner_staff(&console.caller.principal);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let shell = Shell::new(
        console,
        format!("Role · {}", role.name),
        Section::Roles,
        None,
    )
    .with_notice(notice);
    render(
        status,
        &FormPage {
            shell,
            name,
            description,
            base: base.as_str(),
            rows: matrix(base, set),
            errors,
            readonly: !(partner && may(console, Verb::Edit)),
            may_add: partner && may(console, Verb::Add),
            may_delete: partner && may(console, Verb::Delete),
            tabs: partner,
            role: Some(role),
        },
    )
}

pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub number: i64,
    pub modified: String,
}

#[derive(Template)]
#[template(path = "console/roles/accounts.html")]
struct AccountsPage {
    shell: Shell,
    role: RoleOut,
    base_name: &'static str,
    assigned: Vec<AccountRow>,
    others: Vec<AccountRow>,
    q: String,
    next: Option<String>,
    may_assign: bool,
    error: Option<String>,
}

impl AccountsPage {
    fn next_link(&self) -> Option<String> {
        self.next.as_ref().map(|c| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("tab", "accounts")
                .append_pair("q", &self.q)
                .append_pair("cursor", c);
            format!("/console/roles/{}?{}", self.role.id, s.finish())
        })
    }
}

async fn accounts_page(
    state: &AppState,
    console: &Console,
    role: RoleOut,
    q: &EditQuery,
    error: Option<(StatusCode, String)>,
) -> Page {
    let assigned: Vec<RoleAccount> = or_fail(
        console,
        api::role_accounts(
            State(state.clone()),
            console.caller.clone(),
            Path(role.id.clone()),
        )
        .await,
    )?
    .0;
    let search = q.q.clone().unwrap_or_default();
    let page = or_fail(
        console,
        accounts_api::list_accounts(
            State(state.clone()),
            console.caller.clone(),
            Params(accounts_api::ListQuery {
                q: blank_none(&search),
                status: Some("active".into()),
                limit: Some(50),
                cursor: q.cursor.clone(),
            }),
        )
        .await,
    )?
    .0;
    let others = page
        .items
        .into_iter()
        .filter(|a| a.kind == "customer" && !assigned.iter().any(|r| r.id == a.id))
        .map(|a| AccountRow {
            modified: date(&a.modified_at).to_string(),
            id: a.id,
            name: a.name,
            number: a.number,
        })
        .collect();
    let assigned = assigned
        .into_iter()
        .map(|a| AccountRow {
            modified: date(&a.assigned_at).to_string(),
            id: a.id,
            name: a.name,
            number: a.number,
        })
        .collect();
    let shell = Shell::new(
        console,
        format!("Role · {}", role.name),
        Section::Roles,
        None,
    )
    .with_notice(q.notice.as_deref());
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    Ok(render(
        status,
        &AccountsPage {
            shell,
            base_name: base_label(&role.base),
            role,
            assigned,
            others,
            q: search,
            next: page.next_cursor,
            may_assign: may(console, Verb::Edit),
            error,
        },
    ))
}

async fn edit(
    State(state): State<AppState>,
    console: Console,
    Path(role): Path<String>,
    Query(q): Query<EditQuery>,
) -> Page {
    let r = load_role(&state, &console, &role).await?;
    if q.tab.as_deref() == Some("accounts") && is_partner_staff(&console.caller.principal) {
        return accounts_page(&state, &console, r, &q, None).await;
    }
    let set = ticked(&r.permissions);
    let (name, description) = (r.name.clone(), r.description.clone().unwrap_or_default());
    Ok(settings_page(
        &console,
        r,
        name,
        description,
        set,
        Errors::default(),
        q.notice.as_deref(),
    ))
}

async fn save(
    State(state): State<AppState>,
    Path(role): Path<String>,
    posted: Posted<RoleForm>,
) -> Page {
    let names = posted.all("permission");
    let Posted { console, form, .. } = posted;
    let r = load_role(&state, &console, &role).await?;
    let patch = RolePatch {
        name: Some(form.name.clone()),
        description: Some(blank_none(&form.description)),
        permissions: Some(names.clone()),
        base: None,
    };
    let result = api::update_role(
        State(state.clone()),
        console.caller.clone(),
        Path(r.id.clone()),
        Body(patch),
    )
    .await;
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/console/roles/{}?notice=role-saved",
            r.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, ROLE_FIELDS, Some("name")))?;
            Ok(settings_page(
                &console,
                r,
                form.name,
                form.description,
                ticked(&names),
                errors,
                None,
            ))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct NoFields {}

async fn duplicate(
    State(state): State<AppState>,
    Path(role): Path<String>,
    posted: Posted<NoFields>,
) -> Page {
    let console = posted.console;
    let r = api::duplicate_role(
        State(state.clone()),
        console.caller.clone(),
        Path(role),
        Body(DuplicateRole::default()),
    )
    .await;
    let copy = or_fail(&console, r)?.1.0;
    Ok(see_other(&format!(
        "/console/roles/{}?notice=role-created",
        copy.id
    )))
}

// --- delete ----------------------------------------------------------------------------------------------

fn delete_dialog(console: &Console, role: &RoleOut, error: Option<String>) -> Response {
    let shell = Shell::new(console, "Delete Role", Section::Roles, None);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ConfirmPage {
            shell,
            heading: "Delete Role".into(),
            text: format!("Deleting a role cannot be reversed. ({})", role.name),
            word: "delete",
            button: "Delete".into(),
            action: format!("/console/roles/{}/delete", role.id),
            cancel: format!("/console/roles/{}", role.id),
            error,
            carry: Vec::new(),
        },
    )
}

async fn delete_page(
    State(state): State<AppState>,
    console: Console,
    Path(role): Path<String>,
) -> Page {
    if !may(&console, Verb::Delete) {
        return Err(fail(
            Some(&console),
            ApiError::Forbidden("deleting roles needs Roles DELETE".into()),
        ));
    }
    let r = load_role(&state, &console, &role).await?;
    Ok(delete_dialog(&console, &r, None))
}

async fn delete(
    State(state): State<AppState>,
    Path(role): Path<String>,
    posted: Posted<Confirm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let r = load_role(&state, &console, &role).await?;
    let result = api::delete_role(
        State(state.clone()),
        console.caller.clone(),
        Path(r.id.clone()),
        Params(DeleteQuery {
            confirm: Some(form.confirm.clone()),
        }),
    )
    .await;
    match result {
        Ok(_) => Ok(see_other("/console/roles?notice=role-deleted")),
        Err(ApiError::BadRequest { detail, .. }) | Err(ApiError::Conflict(detail)) => {
            Ok(delete_dialog(&console, &r, Some(detail)))
        }
        Err(e) => Err(fail(Some(&console), e)),
    }
}

// --- assign / unassign -----------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct AccountsForm {
    #[serde(default)]
    action: String,
}

async fn accounts_action(
    State(state): State<AppState>,
    Path(role): Path<String>,
    posted: Posted<AccountsForm>,
) -> Page {
    let selected = posted.all("account");
    let Posted { console, form, .. } = posted;
    let r = load_role(&state, &console, &role).await?;
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
    let q = EditQuery {
        tab: Some("accounts".into()),
        ..EditQuery::default()
    };
    if selected.is_empty() {
        return accounts_page(
            &state,
            &console,
            r,
            &q,
            Some((
                StatusCode::BAD_REQUEST,
                "Select at least one account first.".into(),
            )),
        )
        .await;
    }
    for account in &selected {
        let path = Path((r.id.clone(), account.clone()));
        let result = if assign {
            api::assign_role(State(state.clone()), console.caller.clone(), path).await
        } else {
            api::unassign_role(State(state.clone()), console.caller.clone(), path).await
        };
        match result {
            Ok(_) => {}
            Err(e @ (ApiError::Unprocessable { .. } | ApiError::Conflict(_))) => {
                let status = e.status();
                let detail = match e {
                    ApiError::Unprocessable { detail, .. } => detail,
                    ApiError::Conflict(detail) => detail,
                    _ => String::new(),
                };
                return accounts_page(&state, &console, r, &q, Some((status, detail))).await;
            }
            Err(e) => return Err(fail(Some(&console), e)),
        }
    }
    let notice = if assign {
        "role-assigned"
    } else {
        "role-unassigned"
    };
    Ok(see_other(&format!(
        "/console/roles/{}?tab=accounts&notice={notice}",
        r.id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_shows_only_applicable_rows_and_ticks_always_on_cells() {
        let rows = matrix(Base::AccountAdmin, PermissionSet::EMPTY);
        assert!(
            rows.iter()
                .all(|r| r.label != "Accounts" && r.label != "Orders")
        );
        let account = rows.iter().find(|r| r.label == "Account");
        let account = account.map(|r| &r.cells);
        assert!(account.is_some_and(|c| c[0].fixed && c[0].checked && c[1].na && !c[2].checked));
        let partner = matrix(Base::Partner, PermissionSet::full(Base::Partner));
        assert!(
            partner
                .iter()
                .flat_map(|r| &r.cells)
                .all(|c| c.na || c.checked)
        );
    }

    #[test]
    fn posted_boxes_become_a_set_and_unknown_names_are_dropped() {
        let set = ticked(&["users.view".into(), "nonsense".into(), "roles.add".into()]);
        assert_eq!(set.to_names(), vec!["users.view", "roles.add"]);
    }
}
