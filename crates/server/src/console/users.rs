//! Users of an account: the list with search, Property filter, paging and row selection (Manage (x) /
//! Manage all), Add User (sends the welcome mail), Edit User (read-only synced fields), Delete with the typed
//! word, and welcome / password-reset mails for the selected users or for all.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::permissions::{Feature, Verb, may_send_welcome_mail};
use skybridge_domain::user::Source;

use crate::api::jobs::{self as jobs_api, JobOut, JobQuery, ListJobsQuery};
use crate::api::json::{Body, Params};
use crate::api::roles::RoleOut;
use crate::api::user_mail as mail_api;
use crate::api::users::{self as api, BulkAction, DeleteQuery, NewUser, UserOut, UserPatch};
use crate::error::ApiError;
use crate::state::AppState;

use super::accounts::ConfirmPage;
use super::form::{Confirm, Errors};
use super::session::{Console, InAccount, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, ok, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/a/{account}/users", get(list))
        .route("/console/a/{account}/users/new", get(new_form).post(create))
        .route("/console/a/{account}/users/manage", post(manage))
        .route("/console/a/{account}/users/jobs", get(jobs_fragment))
        .route(
            "/console/a/{account}/users/jobs/{job}/cancel",
            post(cancel_job),
        )
        .route("/console/a/{account}/users/columns", post(save_columns))
        .route(
            "/console/a/{account}/users/phone-conflicts",
            get(phone_conflicts),
        )
        .route("/console/a/{account}/users/{user}", get(edit).post(save))
        .route(
            "/console/a/{account}/users/{user}/delete",
            get(delete_page).post(delete),
        )
        .route("/console/a/{account}/users/{user}/mail", post(mail_one))
}

/// The Property filter's choices, as the API names them.
const PROPERTIES: [(&str, &str); 7] = [
    ("admins", "Admins"),
    ("users", "Users"),
    ("registered", "Registered"),
    ("unregistered", "Unregistered"),
    ("pbx_users", "PBX Users"),
    ("micloud_connected", "MiCloud Connected"),
    ("inactive", "Inactive"),
];

/// The list's optional columns (NAME is always shown).
pub const COLUMNS: [(&str, &str); 6] = [
    ("email", "Email Address"),
    ("ext", "Ext"),
    ("modified", "Modified On (By)"),
    ("role", "Role"),
    ("source", "Source"),
    ("status", "Status"),
];
const DEFAULT_COLUMNS: [&str; 4] = ["email", "ext", "modified", "role"];

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    property: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    notice: Option<String>,
    /// A job this admin just started, shown in the progress panel until it is looked at again.
    #[serde(default)]
    job: Option<String>,
}

pub struct Row {
    pub u: UserOut,
    pub role_name: String,
    pub admin: bool,
}

#[derive(Template)]
#[template(path = "console/users/list.html")]
struct ListPage {
    shell: Shell,
    panel: JobsPanel,
    q: String,
    property: String,
    properties: &'static [(&'static str, &'static str)],
    rows: Vec<Row>,
    next: Option<String>,
    columns: Vec<String>,
    all_columns: &'static [(&'static str, &'static str)],
    may_add: bool,
    /// Import Users: Users ADD in a customer account (a Partner Account's users are added one by one).
    may_import: bool,
    may_mail: bool,
    may_reset: bool,
    may_delete: bool,
}

impl ListPage {
    fn shows(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c == column)
    }

    /// The list's first page with the same search and filter, for the reload after a job.
    fn first_page_link(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("q", &self.q)
            .append_pair("property", &self.property);
        format!("{}/users?{}", self.shell.base(), s.finish())
    }

    fn next_link(&self) -> Option<String> {
        self.next.as_ref().map(|c| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("q", &self.q)
                .append_pair("property", &self.property)
                .append_pair("cursor", c);
            format!("{}/users?{}", self.shell.base(), s.finish())
        })
    }
}

async fn roles_of(state: &AppState, console: &Console, account: &str) -> Vec<RoleOut> {
    // Without Roles VIEW the role picker offers only the built-ins the API names.
    crate::api::roles::account_roles(
        State(state.clone()),
        console.caller.clone(),
        Path(account.to_string()),
    )
    .await
    .map(|j| j.0)
    .unwrap_or_default()
}

fn role_name(roles: &[RoleOut], key: &str) -> String {
    roles
        .iter()
        .find(|r| r.id == key)
        .map(|r| r.name.clone())
        .unwrap_or_else(|| match key {
            "partner" => "Partner".into(),
            "account_admin" => "Account Admin".into(),
            "user" => "User".into(),
            _ => "Custom role".into(),
        })
}

async fn list(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<ListQuery>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let property = q
        .property
        .clone()
        .filter(|p| PROPERTIES.iter().any(|(k, _)| k == p))
        .unwrap_or_default();
    let search = q.q.clone().unwrap_or_default();
    // The jobs before the users: a job that ends between the two readings then shows as running, and its end
    // reloads the list. Read the other way round, the list could predate the end of a job the panel already
    // shows as done, and nothing would reload it (seen as a browser test timing out under load).
    let panel = jobs_panel(&state, &console, &ctx.row.id, q.job.as_deref()).await;
    let result = api::list_users(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Params(api::ListQuery {
            q: Some(search.clone()).filter(|s| !s.trim().is_empty()),
            property: Some(property.clone()).filter(|p| !p.is_empty()),
            role: None,
            limit: Some(50),
            cursor: q.cursor.clone(),
        }),
    )
    .await;
    let page = or_fail(&console, result)?.0;
    let roles = roles_of(&state, &console, &ctx.row.id).await;
    let rows = page
        .items
        .into_iter()
        .map(|u| Row {
            role_name: role_name(&roles, &u.role),
            admin: u.role == "account_admin" || u.role == "partner",
            u,
        })
        .collect();
    let columns = super::preferences::user_columns(&state, &console).await;
    let p = &console.caller.principal;
    let shell = Shell::new(
        &console,
        "Users",
        Section::Users,
        Some((&ctx.target, &ctx.row)),
    )
    .with_notice(q.notice.as_deref());
    Ok(ok(&ListPage {
        shell,
        panel,
        q: search,
        property,
        properties: &PROPERTIES,
        rows,
        next: page.next_cursor,
        columns,
        all_columns: &COLUMNS,
        may_add: p.holds(Feature::Users, Verb::Add),
        may_import: p.holds(Feature::Users, Verb::Add)
            && ctx.target.kind != skybridge_domain::account::AccountKind::Partner,
        may_mail: may_send_welcome_mail(p.permissions) && p.holds(Feature::Users, Verb::View),
        may_reset: p.holds(Feature::Users, Verb::Edit),
        may_delete: p.holds(Feature::Users, Verb::Delete),
    }))
}

/// The columns a list shows when the admin has not chosen.
pub fn default_columns() -> Vec<String> {
    DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect()
}

async fn save_columns(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<NoFields>,
) -> Page {
    let ctx = posted
        .console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let chosen: Vec<String> = if posted.pairs.iter().any(|(k, _)| k == "reset") {
        default_columns()
    } else {
        posted
            .all("column")
            .into_iter()
            .filter(|c| COLUMNS.iter().any(|(k, _)| k == c))
            .collect()
    };
    or_fail(
        &posted.console,
        super::preferences::save_user_columns(&state, &posted.console, &chosen).await,
    )?;
    Ok(see_other(&format!(
        "/console/a/{}/users?notice=columns-saved",
        ctx.row.id
    )))
}

#[derive(Deserialize, Default)]
pub struct NoFields {}

#[derive(Deserialize, Default)]
pub struct UserForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    login_id: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    extension: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    active: Option<String>,
}

const USER_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "display_name",
    "email",
    "login_id",
    "mobile",
    "extension",
    "role",
    "active",
];

fn blank_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Template)]
#[template(path = "console/users/form.html")]
struct FormPage {
    shell: Shell,
    /// `None` for Add User.
    user: Option<UserOut>,
    f: UserForm,
    errors: Errors,
    roles: Vec<RoleOut>,
    may_assign: bool,
    may_edit: bool,
    may_delete: bool,
    may_mail: bool,
    synced: bool,
    source_name: String,
}

impl FormPage {
    fn value(&self, field: &str) -> &str {
        match field {
            "first_name" => &self.f.first_name,
            "last_name" => &self.f.last_name,
            "display_name" => &self.f.display_name,
            "email" => &self.f.email,
            "login_id" => &self.f.login_id,
            "mobile" => &self.f.mobile,
            "extension" => &self.f.extension,
            _ => "",
        }
    }

    /// Fields a sync owns are read-only in the console.
    fn locked(&self, field: &str) -> bool {
        self.synced
            && matches!(
                field,
                "first_name"
                    | "last_name"
                    | "display_name"
                    | "email"
                    | "login_id"
                    | "mobile"
                    | "extension"
            )
    }
}

fn source_name(source: &str) -> String {
    match source {
        "scim" => "SCIM".into(),
        "pbx" => "PBX".into(),
        "micloud_connect" => "MiCloud Connect".into(),
        other => other.to_string(),
    }
}

async fn form_page(
    state: &AppState,
    console: &Console,
    ctx: &InAccount,
    user: Option<UserOut>,
    f: UserForm,
    errors: Errors,
    notice: Option<&str>,
) -> Page {
    let roles = roles_of(state, console, &ctx.row.id).await;
    let p = &console.caller.principal;
    let synced = user.as_ref().is_some_and(|u| {
        u.source
            .parse::<Source>()
            .is_ok_and(|s| !matches!(s, Source::Console | Source::Api | Source::Import))
    });
    let title = match &user {
        Some(u) => format!("Edit User · {}", u.display_name),
        None => "New User".into(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let shell = Shell::new(
        console,
        title,
        Section::Users,
        Some((&ctx.target, &ctx.row)),
    )
    .with_notice(notice);
    Ok(render(
        status,
        &FormPage {
            shell,
            source_name: user
                .as_ref()
                .map(|u| source_name(&u.source))
                .unwrap_or_default(),
            user,
            f,
            errors,
            roles,
            may_assign: p.holds(Feature::Roles, Verb::Assign)
                || p.holds(Feature::Users, Verb::Edit),
            may_edit: p.holds(Feature::Users, Verb::Edit),
            may_delete: p.holds(Feature::Users, Verb::Delete),
            may_mail: may_send_welcome_mail(p.permissions),
            synced,
        },
    ))
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn new_form(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::Add)
        .await?;
    let f = UserForm {
        role: "user".into(),
        active: Some("on".into()),
        ..UserForm::default()
    };
    form_page(
        &state,
        &console,
        &ctx,
        None,
        f,
        Errors::default(),
        q.notice.as_deref(),
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<UserForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::Add)
        .await?;
    let input = NewUser {
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        display_name: blank_none(&form.display_name),
        email: form.email.clone(),
        login_id: blank_none(&form.login_id),
        mobile: blank_none(&form.mobile),
        extension: blank_none(&form.extension),
        role: blank_none(&form.role),
    };
    let r = api::create_user(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Body(input),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/users?notice=user-created",
            ctx.row.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, USER_FIELDS, Some("email")))?;
            form_page(&state, &console, &ctx, None, form, errors, None).await
        }
    }
}

fn form_of(u: &UserOut) -> UserForm {
    UserForm {
        first_name: u.first_name.clone().unwrap_or_default(),
        last_name: u.last_name.clone().unwrap_or_default(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        login_id: u.login_id.clone().unwrap_or_default(),
        mobile: u.mobile.clone().unwrap_or_default(),
        extension: u.extension.clone().unwrap_or_default(),
        role: u.role.clone(),
        active: u.active.then(|| "on".into()),
    }
}

async fn load_user(
    state: &AppState,
    console: &Console,
    account: &str,
    user: &str,
) -> Result<(InAccount, UserOut), axum::response::Response> {
    let ctx = console
        .account(state, account, Feature::Users, Verb::View)
        .await?;
    let u = or_fail(
        console,
        api::get_user(
            State(state.clone()),
            console.caller.clone(),
            Path((ctx.row.id.clone(), user.to_string())),
        )
        .await,
    )?
    .0;
    Ok((ctx, u))
}

async fn edit(
    State(state): State<AppState>,
    console: Console,
    Path((account, user)): Path<(String, String)>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let (ctx, u) = load_user(&state, &console, &account, &user).await?;
    let f = form_of(&u);
    form_page(
        &state,
        &console,
        &ctx,
        Some(u),
        f,
        Errors::default(),
        q.notice.as_deref(),
    )
    .await
}

async fn save(
    State(state): State<AppState>,
    Path((account, user)): Path<(String, String)>,
    posted: Posted<UserForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let (ctx, u) = load_user(&state, &console, &account, &user).await?;
    let synced = u
        .source
        .parse::<Source>()
        .is_ok_and(|s| !matches!(s, Source::Console | Source::Api | Source::Import));
    // Only what changed is sent: a synced user's read-only fields are never part of the patch, and an
    // admin who may assign roles but not edit details can still change the role.
    let differs = |new: &str, old: &str| (new.trim() != old).then(|| new.to_string());
    let opt_differs =
        |new: &str, old: &Option<String>| (blank_none(new) != *old).then(|| blank_none(new));
    // The access checkbox is disabled (and so not sent) for an admin without Users EDIT: absent is not "off".
    let may_edit = console.caller.principal.holds(Feature::Users, Verb::Edit);
    let mut patch = UserPatch {
        role: differs(&form.role, &u.role).filter(|r| !r.is_empty()),
        active: (may_edit && form.active.is_some() != u.active).then_some(form.active.is_some()),
        ..UserPatch::default()
    };
    if !synced {
        patch.first_name = differs(&form.first_name, u.first_name.as_deref().unwrap_or(""));
        patch.last_name = differs(&form.last_name, u.last_name.as_deref().unwrap_or(""));
        patch.display_name = differs(&form.display_name, &u.display_name);
        patch.email = differs(&form.email, &u.email);
        patch.login_id = opt_differs(&form.login_id, &u.login_id);
        patch.mobile = opt_differs(&form.mobile, &u.mobile);
        patch.extension = opt_differs(&form.extension, &u.extension);
    }
    let r = api::update_user(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), u.id.clone())),
        Body(patch),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/users/{}?notice=user-saved",
            ctx.row.id, u.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, USER_FIELDS, Some("email")))?;
            form_page(&state, &console, &ctx, Some(u), form, errors, None).await
        }
    }
}

async fn delete_page(
    State(state): State<AppState>,
    console: Console,
    Path((account, user)): Path<(String, String)>,
) -> Page {
    let (ctx, u) = load_user(&state, &console, &account, &user).await?;
    delete_dialog(&console, &ctx, &u, None)
}

fn delete_dialog(console: &Console, ctx: &InAccount, u: &UserOut, error: Option<String>) -> Page {
    let shell = Shell::new(
        console,
        "Delete User",
        Section::Users,
        Some((&ctx.target, &ctx.row)),
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(
        status,
        &ConfirmPage {
            shell,
            heading: "Delete User".into(),
            text: format!(
                "Deleting {} ({}) cannot be undone.",
                u.display_name, u.email
            ),
            word: "delete",
            button: "Delete".into(),
            action: format!("/console/a/{}/users/{}/delete", ctx.row.id, u.id),
            cancel: format!("/console/a/{}/users/{}", ctx.row.id, u.id),
            error,
            carry: Vec::new(),
        },
    ))
}

async fn delete(
    State(state): State<AppState>,
    Path((account, user)): Path<(String, String)>,
    posted: Posted<Confirm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let (ctx, u) = load_user(&state, &console, &account, &user).await?;
    let r = api::delete_user(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), u.id.clone())),
        Params(DeleteQuery {
            confirm: Some(form.confirm.clone()),
        }),
    )
    .await;
    match r {
        Ok(_) => Ok(see_other(&format!(
            "/console/a/{}/users?notice=user-deleted",
            ctx.row.id
        ))),
        Err(ApiError::BadRequest { detail, .. }) => delete_dialog(&console, &ctx, &u, Some(detail)),
        Err(e) => Err(fail(Some(&console), e)),
    }
}

#[derive(Deserialize)]
pub struct MailForm {
    #[serde(default)]
    kind: String,
}

/// "Resend the welcome email" and "Reset password" on the Edit User page.
async fn mail_one(
    State(state): State<AppState>,
    Path((account, user)): Path<(String, String)>,
    posted: Posted<MailForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let (ctx, u) = load_user(&state, &console, &account, &user).await?;
    let s = State(state.clone());
    let path = Path((ctx.row.id.clone(), u.id.clone()));
    let (r, notice) = match form.kind.as_str() {
        "welcome" => (
            mail_api::send_welcome(s, console.caller.clone(), path).await,
            "welcome-sent",
        ),
        "reset" => (
            mail_api::send_reset(s, console.caller.clone(), path).await,
            "reset-sent",
        ),
        _ => return Err(fail(Some(&console), ApiError::bad("kind", "unknown mail"))),
    };
    or_fail(&console, r.map(|_| ()))?;
    Ok(see_other(&format!(
        "/console/a/{}/users/{}?notice={notice}",
        ctx.row.id, u.id
    )))
}

#[derive(Deserialize, Default)]
pub struct ManageForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// The Manage menu: welcome mails, password resets or deletion for the ticked users (`user` fields), or for
/// every user when the action says `…_all`. Each starts a job through the API's bulk endpoint; the Users page
/// then shows its progress.
async fn manage(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<ManageForm>,
) -> Page {
    let selected = posted.all("user");
    let Posted { console, form, .. } = posted;
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let base = format!("/console/a/{}/users", ctx.row.id);
    let (action, all) = match form.action.as_str() {
        "welcome" => ("welcome", false),
        "welcome_all" => ("welcome", true),
        "reset" => ("reset", false),
        "reset_all" => ("reset", true),
        "delete" => ("delete", false),
        other => {
            return Err(fail(
                Some(&console),
                ApiError::bad("action", format!("unknown action {other:?}")),
            ));
        }
    };
    if !all && selected.is_empty() {
        return Err(fail(
            Some(&console),
            ApiError::bad("user", "select at least one user first"),
        ));
    }
    if action == "delete" {
        let carry: Vec<(String, String)> =
            std::iter::once(("action".to_string(), "delete".to_string()))
                .chain(selected.iter().map(|id| ("user".to_string(), id.clone())))
                .collect();
        let dialog = |error: Option<String>| {
            let shell = Shell::new(
                &console,
                "Delete Selected User(s)?",
                Section::Users,
                Some((&ctx.target, &ctx.row)),
            );
            render(
                if error.is_some() {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                },
                &ConfirmPage {
                    shell,
                    heading: "Delete Selected User(s)?".into(),
                    text: format!(
                        "{} selected user(s) will be deleted. This cannot be undone.",
                        selected.len()
                    ),
                    word: "delete",
                    button: "Delete".into(),
                    action: format!("{base}/manage"),
                    cancel: base.clone(),
                    error,
                    carry: carry.clone(),
                },
            )
        };
        let Some(word) = form.confirm.as_deref() else {
            return Ok(dialog(None));
        };
        if word.trim() != "delete" {
            return Ok(dialog(Some("type \"delete\" to confirm".into())));
        }
    }
    let started = api::bulk_users(
        State(state.clone()),
        console.caller.clone(),
        Path(ctx.row.id.clone()),
        Body(BulkAction {
            action: action.into(),
            user_ids: (!all).then_some(selected),
            all: all.then_some(true),
            confirm: form.confirm.clone(),
        }),
    )
    .await;
    let job = or_fail(&console, started)?.2.0;
    Ok(see_other(&format!(
        "{base}?notice=job-started&job={}",
        job.id
    )))
}

/// The progress panel: this admin's jobs that are queued or running in the account, and the one it just
/// started (`job`) once finished.
pub struct JobsPanel {
    pub jobs: Vec<JobView>,
    /// The fragment htmx polls while a job runs.
    pub poll_url: String,
    /// The page again, for browsers without JavaScript.
    pub refresh_url: String,
    pub base: String,
    pub csrf: String,
}

impl JobsPanel {
    pub fn running(&self) -> bool {
        self.jobs.iter().any(|j| j.active)
    }
}

pub struct JobView {
    pub id: String,
    pub title: String,
    pub state: String,
    pub state_text: &'static str,
    pub active: bool,
    /// Items done or skipped.
    pub processed: i64,
    pub total: i64,
    pub unit: &'static str,
    pub summary: String,
    pub error: Option<String>,
    /// Its node stopped; another (or this one, restarted) resumes it by `resumes_by`.
    pub recovering: bool,
    pub resumes_by: Option<String>,
}

fn job_view(j: JobOut) -> JobView {
    let kind = j.kind.parse::<skybridge_domain::job::JobKind>().ok();
    let state = j.state.parse::<skybridge_domain::job::JobState>().ok();
    use skybridge_domain::job::JobState as S;
    let state_text = match state {
        Some(S::Queued) => "Waiting to start",
        Some(S::Running) if j.recovering => "Being resumed",
        Some(S::Running) => "In progress",
        Some(S::Succeeded) => "Completed",
        Some(S::Failed) => "Failed",
        Some(S::Cancelled) => "Cancelled",
        None => "Unknown",
    };
    JobView {
        title: kind.map_or("Job", |k| k.title()).into(),
        unit: kind.map_or("items", |k| k.unit()),
        active: state.is_some_and(|s| !s.is_finished()),
        state_text,
        processed: j.done + j.failed,
        total: j.total,
        summary: j.summary.unwrap_or_else(|| state_text.to_string()),
        error: j.error,
        recovering: j.recovering,
        resumes_by: j.resumes_by,
        state: j.state,
        id: j.id,
    }
}

async fn jobs_panel(
    state: &AppState,
    console: &Console,
    account: &str,
    job: Option<&str>,
) -> JobsPanel {
    // The panel is an aid: if it cannot be read, the page shows without it.
    let mut jobs: Vec<JobOut> = jobs_api::list_jobs(
        State(state.clone()),
        console.caller.clone(),
        Path(account.to_string()),
        Params(ListJobsQuery {
            state: Some("queued,running".into()),
            created_by: Some("me".into()),
            limit: Some(10),
            cursor: None,
        }),
    )
    .await
    .map(|p| p.0.items)
    .unwrap_or_default();
    let job = job.filter(|id| !id.is_empty());
    if let Some(id) = job
        && !jobs.iter().any(|j| j.id == id)
        && let Ok(found) = jobs_api::get_job(
            State(state.clone()),
            console.caller.clone(),
            Path(id.to_string()),
            Params(JobQuery { wait: None }),
        )
        .await
        && found.0.account_id == account
    {
        jobs.insert(0, found.0);
    }
    let base = format!("/console/a/{account}");
    let query = job
        .map(|id| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("job", id);
            format!("?{}", s.finish())
        })
        .unwrap_or_default();
    JobsPanel {
        jobs: jobs.into_iter().map(job_view).collect(),
        poll_url: format!("{base}/users/jobs{query}"),
        refresh_url: format!("{base}/users{query}"),
        base,
        csrf: console.csrf.clone(),
    }
}

#[derive(Template)]
#[template(path = "console/users/jobs_fragment.html")]
struct JobsFragment {
    panel: JobsPanel,
}

#[derive(Deserialize, Default)]
pub struct JobsQuery {
    #[serde(default)]
    job: Option<String>,
}

/// The progress panel alone, for htmx to poll.
async fn jobs_fragment(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<JobsQuery>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let panel = jobs_panel(&state, &console, &ctx.row.id, q.job.as_deref()).await;
    let done = !panel.running();
    let mut resp = ok(&JobsFragment { panel });
    if done {
        // The poll that sees the last job end tells the page (htmx fires this event on the body), and the
        // user list, listening for it, reloads itself: an import or a deletion changed who is in it.
        resp.headers_mut().insert(
            "hx-trigger",
            axum::http::HeaderValue::from_static("jobs-done"),
        );
    }
    Ok(resp)
}

/// The panel's Cancel: stops the job before its next chunk.
async fn cancel_job(
    State(state): State<AppState>,
    Path((account, job)): Path<(String, String)>,
    posted: Posted<NoFields>,
) -> Page {
    let console = posted.console;
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let r = jobs_api::cancel_job(
        State(state.clone()),
        console.caller.clone(),
        Path(job.clone()),
    )
    .await;
    let notice = match r {
        Ok(_) => "job-cancelled",
        // Finished meanwhile: the panel shows how.
        Err(ApiError::Conflict(_)) => "",
        Err(e) => return Err(fail(Some(&console), e)),
    };
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("job", &job);
    if !notice.is_empty() {
        s.append_pair("notice", notice);
    }
    Ok(see_other(&format!(
        "/console/a/{}/users?{}",
        ctx.row.id,
        s.finish()
    )))
}

/// The Add User form of `account` filled with a new account's first admin that the API refused, with why.
pub(crate) async fn new_admin_form(
    state: &AppState,
    console: &Console,
    account: &str,
    [first, last, email]: [&String; 3],
    err: ApiError,
) -> Page {
    let ctx = console
        .account(state, account, Feature::Users, Verb::View)
        .await?;
    let errors = or_fail(console, Errors::from_api(err, USER_FIELDS, Some("email")))?;
    let f = UserForm {
        first_name: first.clone(),
        last_name: last.clone(),
        email: email.clone(),
        role: "account_admin".into(),
        active: Some("on".into()),
        ..UserForm::default()
    };
    form_page(
        state,
        console,
        &ctx,
        None,
        f,
        errors,
        Some("account-created"),
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct PhoneQuery {
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Template)]
#[template(path = "console/users/phone_conflicts.html")]
struct PhonePage {
    shell: Shell,
    phone: String,
    searched: bool,
    holders: Vec<crate::api::entra::PhoneHolder>,
    errors: Errors,
}

/// "Click here if you have an Azure AD Sync phone number conflict": who in the account holds a number Entra
/// tried to give someone else (active and inactive users).
async fn phone_conflicts(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<PhoneQuery>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    let phone = q.phone.unwrap_or_default();
    let searched = !phone.trim().is_empty();
    let (holders, errors) = if searched {
        let r = crate::api::entra::phone_conflicts(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Params(crate::api::entra::ConflictQuery {
                phone: Some(phone.clone()),
            }),
        )
        .await;
        match r {
            Ok(j) => (j.0.items, Errors::default()),
            Err(e) => (
                Vec::new(),
                or_fail(&console, Errors::from_api(e, &["phone"], None))?,
            ),
        }
    } else {
        (Vec::new(), Errors::default())
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let shell = Shell::new(
        &console,
        "Phone Number Conflict Search",
        Section::Users,
        Some((&ctx.target, &ctx.row)),
    );
    Ok(render(
        status,
        &PhonePage {
            shell,
            phone,
            searched,
            holders,
            errors,
        },
    ))
}
