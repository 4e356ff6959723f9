//! Customer accounts (partner staff): the Active/Deactivated list with search-as-you-type, Add Account with
//! its first admin, the Account Information page, and the typed-word dialogs that deactivate, reactivate and
//! delete an account.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use skybridge_domain::navigation::is_partner_staff;
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::validate;

use crate::api::accounts::{
    self as api, AccountOut, AccountPatch, Confirmation, ContactIn, DeleteQuery, NewAccount,
};
use crate::api::json::{Body, Params};
use crate::api::users::{self as users_api, NewUser};
use crate::error::ApiError;
use crate::state::AppState;

use super::form::{Confirm, Errors};
use super::session::{Console, Posted};
use super::shell::{Section, Shell};
use super::{Page, fail, ok, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/accounts", get(list))
        .route("/console/accounts/new", get(new_form).post(create))
        .route("/console/a/{account}", get(info).post(save))
        .route(
            "/console/a/{account}/{action}",
            get(confirm_page).post(confirm_action),
        )
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "console/accounts/list.html")]
struct ListPage {
    shell: Shell,
    deactivated: bool,
    q: String,
    accounts: Vec<AccountOut>,
    next: Option<String>,
    may_add: bool,
}

impl ListPage {
    fn next_link(&self) -> Option<String> {
        self.next.as_ref().map(|c| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("status", self.status())
                .append_pair("q", &self.q)
                .append_pair("cursor", c);
            format!("/console/accounts?{}", s.finish())
        })
    }

    fn status(&self) -> &'static str {
        if self.deactivated {
            "deactivated"
        } else {
            "active"
        }
    }
}

async fn list(State(state): State<AppState>, console: Console, Query(q): Query<ListQuery>) -> Page {
    let deactivated = q.status.as_deref() == Some("deactivated");
    let search = q.q.clone().unwrap_or_default();
    let result = api::list_accounts(
        State(state.clone()),
        console.caller.clone(),
        Params(api::ListQuery {
            q: Some(search.clone()).filter(|s| !s.trim().is_empty()),
            status: Some(if deactivated { "deactivated" } else { "active" }.into()),
            limit: Some(50),
            cursor: q.cursor.clone(),
        }),
    )
    .await;
    let page = or_fail(&console, result)?.0;
    let may_add = is_partner_staff(&console.caller.principal)
        && console.caller.principal.holds(Feature::Accounts, Verb::Add);
    let shell =
        Shell::new(&console, "Accounts", Section::Accounts, None).with_notice(q.notice.as_deref());
    Ok(ok(&ListPage {
        shell,
        deactivated,
        q: search,
        accounts: page.items,
        next: page.next_cursor,
        may_add,
    }))
}

/// The Add Account form's values, kept when the form comes back with errors.
#[derive(Deserialize, Default)]
pub struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    address2: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    default_language: String,
    #[serde(default)]
    business_type: String,
    #[serde(default)]
    cloud_location: String,
    /// One e-mail address per line (or separated by commas).
    #[serde(default)]
    support_contacts: String,
    #[serde(default)]
    admin_first_name: String,
    #[serde(default)]
    admin_last_name: String,
    #[serde(default)]
    admin_email: String,
    #[serde(default)]
    bandwidth_optimization: Option<String>,
}

const ACCOUNT_FIELDS: &[&str] = &[
    "name",
    "country",
    "province",
    "address",
    "address2",
    "city",
    "postal_code",
    "default_language",
    "business_type",
    "cloud_location",
    "support_contacts",
    "admin_first_name",
    "admin_last_name",
    "admin_email",
];

#[derive(Template)]
#[template(path = "console/accounts/new.html")]
struct NewPage {
    shell: Shell,
    f: AccountForm,
    errors: Errors,
    locations: Vec<String>,
}

async fn new_form(State(state): State<AppState>, console: Console) -> Page {
    if !is_partner_staff(&console.caller.principal) {
        return Err(fail(
            Some(&console),
            ApiError::Forbidden("only partner staff add customer accounts".into()),
        ));
    }
    let shell = Shell::new(&console, "Add Account", Section::Accounts, None);
    Ok(ok(&NewPage {
        shell,
        f: AccountForm {
            default_language: "en-US".into(),
            ..AccountForm::default()
        },
        errors: Errors::default(),
        locations: state.config.cloud_locations.clone(),
    }))
}

fn contacts(raw: &str) -> Vec<ContactIn> {
    raw.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|e| ContactIn {
            user_id: None,
            email: Some(e.to_string()),
        })
        .collect()
}

fn blank_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The account fields' errors are reported by the API under their own names; a support contact's as
/// `support_contacts[i]`, which the form shows at its one text area.
fn form_errors(err: ApiError, prefix: &str) -> Result<Errors, ApiError> {
    let err = match err {
        ApiError::BadRequest { field, detail } => ApiError::BadRequest {
            field: field.map(|f| field_of(&f, prefix)),
            detail,
        },
        ApiError::Unprocessable { field, detail } => ApiError::Unprocessable {
            field: field.map(|f| field_of(&f, prefix)),
            detail,
        },
        other => other,
    };
    Errors::from_api(err, ACCOUNT_FIELDS, None)
}

fn field_of(f: &str, prefix: &str) -> String {
    let base = f.split(['[', '.']).next().unwrap_or(f);
    format!("{prefix}{base}")
}

async fn create(State(state): State<AppState>, posted: Posted<AccountForm>) -> Page {
    let Posted { console, form, .. } = posted;
    let again = |errors: Errors, form: AccountForm| {
        let shell = Shell::new(&console, "Add Account", Section::Accounts, None);
        render(
            StatusCode::BAD_REQUEST,
            &NewPage {
                shell,
                f: form,
                errors,
                locations: state.config.cloud_locations.clone(),
            },
        )
    };
    // The first admin is checked before the account exists, so a bad admin leaves nothing behind.
    let wants_admin = [
        &form.admin_first_name,
        &form.admin_last_name,
        &form.admin_email,
    ]
    .iter()
    .any(|s| !s.trim().is_empty());
    if wants_admin {
        let p = &console.caller.principal;
        if !(p.holds(Feature::Users, Verb::Add) && p.holds(Feature::Roles, Verb::Assign)) {
            let errors = Errors::from_api(
                ApiError::bad(
                    "admin_email",
                    "your role does not allow adding an Account Admin; leave these fields empty",
                ),
                ACCOUNT_FIELDS,
                None,
            )
            .unwrap_or_default();
            return Ok(again(errors, form));
        }
        let checks = [
            validate::required_text("admin_first_name", &form.admin_first_name, 100).err(),
            validate::required_text("admin_last_name", &form.admin_last_name, 100).err(),
            validate::email("admin_email", &form.admin_email).err(),
        ];
        if let Some(e) = checks.into_iter().flatten().next() {
            let errors = or_fail(&console, Errors::from_api(e.into(), ACCOUNT_FIELDS, None))?;
            return Ok(again(errors, form));
        }
    }
    let input = NewAccount {
        name: form.name.clone(),
        country: form.country.clone(),
        province: form.province.clone(),
        address: form.address.clone(),
        address2: blank_none(&form.address2),
        city: form.city.clone(),
        postal_code: form.postal_code.clone(),
        default_language: blank_none(&form.default_language),
        business_type: blank_none(&form.business_type),
        cloud_location: blank_none(&form.cloud_location),
        support_contacts: contacts(&form.support_contacts),
    };
    let created =
        api::create_account(State(state.clone()), console.caller.clone(), Body(input)).await;
    let account = match created {
        Ok((_, axum::Json(a))) => a,
        Err(e) => {
            let errors = or_fail(&console, form_errors(e, ""))?;
            return Ok(again(errors, form));
        }
    };
    if wants_admin {
        // An Account Manager manages the account it just created (the API assigned it): the caller this
        // request started with does not know that yet.
        let mut caller = console.caller.clone();
        if let skybridge_domain::policy::ManagerScope::Restricted(set) =
            &mut caller.principal.manager
            && let Ok(id) = account.id.parse()
        {
            set.insert(id);
        }
        let admin = NewUser {
            first_name: form.admin_first_name.clone(),
            last_name: form.admin_last_name.clone(),
            display_name: None,
            email: form.admin_email.clone(),
            login_id: None,
            mobile: None,
            extension: None,
            role: Some("account_admin".into()),
        };
        let r = users_api::create_user(
            State(state.clone()),
            caller.clone(),
            Path(account.id.clone()),
            Body(admin),
        )
        .await;
        if let Err(e) = r {
            // The account exists; the admin's values and what was wrong with them go to its Add User form.
            let console = Console { caller, ..console };
            return super::users::new_admin_form(
                &state,
                &console,
                &account.id,
                [
                    &form.admin_first_name,
                    &form.admin_last_name,
                    &form.admin_email,
                ],
                e,
            )
            .await;
        }
    }
    Ok(see_other(&format!(
        "/console/a/{}?notice=account-created",
        account.id
    )))
}

#[derive(Template)]
#[template(path = "console/accounts/info.html")]
struct InfoPage {
    shell: Shell,
    a: AccountOut,
    f: AccountForm,
    errors: Errors,
    may_edit: bool,
    partner: bool,
    registry: Option<crate::api::integrations::Registry>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn form_of(a: &AccountOut) -> AccountForm {
    AccountForm {
        name: a.name.clone(),
        country: a.country.clone(),
        province: a.province.clone(),
        address: a.address.clone(),
        address2: a.address2.clone().unwrap_or_default(),
        city: a.city.clone(),
        postal_code: a.postal_code.clone(),
        default_language: a.default_language.clone(),
        business_type: a.business_type.clone().unwrap_or_default(),
        cloud_location: a.cloud_location.clone(),
        support_contacts: a
            .support_contacts
            .iter()
            .map(|c| c.email.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        bandwidth_optimization: a.bandwidth_optimization.then(|| "on".into()),
        ..AccountForm::default()
    }
}

async fn info_page(
    state: &AppState,
    console: &Console,
    account: &str,
    form: Option<(AccountForm, Errors)>,
    notice: Option<&str>,
) -> Page {
    let ctx = console
        .account(state, account, Feature::Account, Verb::View)
        .await?;
    if ctx.target.status != skybridge_domain::account::AccountStatus::Active {
        // A deactivated account cannot be viewed until it is reactivated.
        return Ok(see_other(&format!("/console/a/{}/reactivate", ctx.row.id)));
    }
    let a = or_fail(
        console,
        api::get_account(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
        )
        .await,
    )?
    .0;
    let principal = &console.caller.principal;
    // Without Integrations VIEW the panel is hidden, not an error.
    let registry = if principal.holds(Feature::Integrations, Verb::View) {
        let r = crate::api::integrations::list_integrations(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
        )
        .await;
        Some(or_fail(console, r)?.0)
    } else {
        None
    };
    let partner = is_partner_staff(principal) && ctx.target.id != principal.home.id;
    let shell = Shell::new(
        console,
        format!("Account · {}", a.name),
        Section::Account,
        Some((&ctx.target, &ctx.row)),
    )
    .with_notice(notice);
    let (f, errors, status) = match form {
        Some((f, e)) => (f, e, StatusCode::BAD_REQUEST),
        None => (form_of(&a), Errors::default(), StatusCode::OK),
    };
    Ok(render(
        status,
        &InfoPage {
            shell,
            f,
            errors,
            may_edit: principal.holds(Feature::Account, Verb::Edit),
            partner,
            registry,
            a,
        },
    ))
}

async fn info(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    info_page(&state, &console, &account, None, q.notice.as_deref()).await
}

async fn save(
    State(state): State<AppState>,
    Path(account): Path<String>,
    posted: Posted<AccountForm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let patch = AccountPatch {
        name: Some(form.name.clone()),
        country: Some(form.country.clone()),
        province: Some(form.province.clone()),
        address: Some(form.address.clone()),
        address2: Some(blank_none(&form.address2)),
        city: Some(form.city.clone()),
        postal_code: Some(form.postal_code.clone()),
        default_language: Some(form.default_language.clone()),
        business_type: Some(blank_none(&form.business_type)),
        bandwidth_optimization: Some(form.bandwidth_optimization.is_some()),
        support_contacts: Some(contacts(&form.support_contacts)),
        ..AccountPatch::default()
    };
    let r = api::update_account(
        State(state.clone()),
        console.caller.clone(),
        Path(account.clone()),
        Body(patch),
    )
    .await;
    match r {
        Ok(axum::Json(a)) => Ok(see_other(&format!(
            "/console/a/{}?notice=account-saved",
            a.id
        ))),
        Err(e) => {
            let errors = or_fail(&console, form_errors(e, ""))?;
            info_page(&state, &console, &account, Some((form, errors)), None).await
        }
    }
}

/// A lifecycle action and the word that confirms it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Deactivate,
    Reactivate,
    Delete,
}

impl Lifecycle {
    fn parse(s: &str) -> Option<Lifecycle> {
        match s {
            "deactivate" => Some(Lifecycle::Deactivate),
            "reactivate" => Some(Lifecycle::Reactivate),
            "delete" => Some(Lifecycle::Delete),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Lifecycle::Deactivate => "deactivate",
            Lifecycle::Reactivate => "reactivate",
            Lifecycle::Delete => "delete",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Lifecycle::Deactivate => "Deactivate Customer?",
            Lifecycle::Reactivate => "Reactivate Customer?",
            Lifecycle::Delete => "Delete Customer?",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Lifecycle::Deactivate => {
                "Deactivating a customer account means it is no longer active: its users cannot sign in to the \
                 console or use any application. You can reactivate the account later."
            }
            Lifecycle::Reactivate => {
                "This customer account was deactivated. To view, edit, or delete it, reactivate it first; its \
                 users can then sign in and use their applications again."
            }
            Lifecycle::Delete => {
                "Deleting a customer account cannot be undone. Its users lose access and the gateway linked to \
                 the account is reset."
            }
        }
    }

    fn verb(self) -> Verb {
        if self == Lifecycle::Delete {
            Verb::Delete
        } else {
            Verb::Edit
        }
    }
}

#[derive(Template)]
#[template(path = "console/confirm.html")]
pub struct ConfirmPage {
    pub shell: Shell,
    pub heading: String,
    pub text: String,
    pub word: &'static str,
    pub button: String,
    pub action: String,
    pub cancel: String,
    pub error: Option<String>,
    /// Hidden fields carried through the dialog (e.g. the selected users).
    pub carry: Vec<(String, String)>,
}

async fn confirm_page(
    State(state): State<AppState>,
    console: Console,
    Path((account, action)): Path<(String, String)>,
) -> Page {
    let Some(action) = Lifecycle::parse(&action) else {
        return Err(fail(Some(&console), ApiError::NotFound("page")));
    };
    confirm_render(&state, &console, &account, action, None).await
}

async fn confirm_render(
    state: &AppState,
    console: &Console,
    account: &str,
    action: Lifecycle,
    error: Option<String>,
) -> Page {
    let ctx = console
        .account(state, account, Feature::Accounts, action.verb())
        .await?;
    let shell = Shell::new(
        console,
        action.heading(),
        Section::Accounts,
        Some((&ctx.target, &ctx.row)),
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let cancel = if action == Lifecycle::Reactivate {
        "/console/accounts?status=deactivated".to_string()
    } else {
        format!("/console/a/{}", ctx.row.id)
    };
    Ok(render(
        status,
        &ConfirmPage {
            shell,
            heading: action.heading().into(),
            text: format!("{} ({})", action.text(), ctx.row.name),
            word: action.word(),
            button: capitalise(action.word()),
            action: format!("/console/a/{}/{}", ctx.row.id, action.word()),
            cancel,
            error,
            carry: Vec::new(),
        },
    ))
}

pub fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

async fn confirm_action(
    State(state): State<AppState>,
    Path((account, action)): Path<(String, String)>,
    posted: Posted<Confirm>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let Some(action) = Lifecycle::parse(&action) else {
        return Err(fail(Some(&console), ApiError::NotFound("page")));
    };
    let s = State(state.clone());
    let c = console.caller.clone();
    let p = Path(account.clone());
    let given = form.confirm.clone();
    // Redirects name the account by the id the API resolved, never by the raw path segment.
    let r: Result<String, ApiError> = match action {
        Lifecycle::Deactivate => {
            api::deactivate_account(s, c, p, Body(Confirmation { confirm: given }))
                .await
                .map(|j| j.0.id)
        }
        Lifecycle::Reactivate => {
            api::reactivate_account(s, c, p, Body(Confirmation { confirm: given }))
                .await
                .map(|j| j.0.id)
        }
        Lifecycle::Delete => api::delete_account(
            s,
            c,
            p,
            Params(DeleteQuery {
                confirm: Some(given),
            }),
        )
        .await
        .map(|_| String::new()),
    };
    match r {
        Ok(id) => Ok(see_other(&match action {
            Lifecycle::Deactivate => {
                "/console/accounts?status=deactivated&notice=account-deactivated".to_string()
            }
            // After a reactivation the partner goes straight back into the account.
            Lifecycle::Reactivate => format!("/console/a/{id}?notice=account-reactivated"),
            Lifecycle::Delete => "/console/accounts?notice=account-deleted".to_string(),
        })),
        Err(ApiError::BadRequest { detail, .. }) => {
            confirm_render(&state, &console, &account, action, Some(detail)).await
        }
        Err(e) => Err(fail(Some(&console), e)),
    }
}
