//! Customer accounts (partner staff): the Active/Deactivated list with search-as-you-type, Add Account with
//! its first admin, the Account Information page, and the typed-word dialogs that deactivate, reactivate and
//! delete an account.
//!
//! Support contacts are chosen two ways in one form: Partner users from a `<select multiple>` of the Partner
//! Account's users (sent to the API as `{ "user_id": … }`; with JavaScript an htmx filter narrows the list by
//! name or e-mail) and bare e-mail addresses in a text area (`{ "email": … }`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use skybridge_domain::AccountId;
use skybridge_domain::navigation::is_partner_staff;
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::validate;

use crate::api::accounts::{
    self as api, AccountOut, AccountPatch, Confirmation, ContactIn, ContactOut, DeleteQuery,
    NewAccount,
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
        .route("/console/accounts/contact-users", get(contact_users))
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
    /// The Partner users chosen as contacts (the repeated `contact_user` field), by user id.
    #[serde(skip)]
    contact_users: Vec<String>,
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
    "contact_users",
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
    choice: ContactChoice,
}

/// How many of the Partner Account's users the form lists at most (the htmx filter finds the others).
const PARTNER_USERS_LISTED: usize = 1000;
/// From how many Partner users on the form the htmx filter is offered.
const FILTER_FROM: usize = 10;

/// A Partner user the form offers as a support contact.
struct ContactUser {
    id: String,
    name: String,
    email: String,
    selected: bool,
}

/// The Partner users field of the account forms.
struct ContactChoice {
    users: Vec<ContactUser>,
    /// The filter's request (htmx, search-as-you-type), when there are enough users to need it.
    filter_url: Option<String>,
    /// The Partner Account has more users than are listed.
    more: bool,
}

impl ContactChoice {
    /// The height of the list box.
    fn size(&self) -> usize {
        self.users.len().clamp(3, 8)
    }
}

/// The Partner Account's users matching `q` (all without it), by name, as the API lists them to the caller;
/// `None` when the caller may not list them (e.g. an Account Admin of a customer account). The second value
/// says whether there are more than `max`.
async fn partner_users(
    state: &AppState,
    console: &Console,
    partner: AccountId,
    q: Option<String>,
    max: usize,
) -> Option<(Vec<users_api::UserOut>, bool)> {
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = users_api::list_users(
            State(state.clone()),
            console.caller.clone(),
            Path(partner.to_string()),
            Params(users_api::ListQuery {
                q: q.clone(),
                property: None,
                role: None,
                limit: Some(crate::api::page::MAX_LIMIT),
                cursor,
            }),
        )
        .await
        .ok()?
        .0;
        found.extend(page.items);
        if found.len() >= max {
            let more = found.len() > max || page.next_cursor.is_some();
            found.truncate(max);
            return Some((found, more));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Some((found, false)),
        }
    }
}

/// The Partner users field: the chosen users first when the listing does not hold them (a filtered listing,
/// or a caller who cannot list the Partner Account's users but keeps the contacts the account has), then the
/// Partner Account's users. `known` are the account's current contacts, which carry their names.
async fn contact_choice(
    state: &AppState,
    console: &Console,
    partner: AccountId,
    account: Option<&str>,
    chosen: &[String],
    known: &[ContactOut],
    q: Option<String>,
) -> ContactChoice {
    let listed = partner_users(state, console, partner, q, PARTNER_USERS_LISTED).await;
    let may_list = listed.is_some();
    let (listed, more) = listed.unwrap_or_default();
    let mut users = Vec::new();
    for id in chosen {
        if listed.iter().any(|u| &u.id == id) || users.iter().any(|u: &ContactUser| &u.id == id) {
            continue;
        }
        if let Some(c) = known
            .iter()
            .find(|c| c.user_id.as_deref() == Some(id.as_str()))
        {
            users.push(ContactUser {
                id: id.clone(),
                name: c.name.clone().unwrap_or_default(),
                email: c.email.clone(),
                selected: true,
            });
        } else if may_list {
            // A chosen user the listing does not show (filtered out or past its end); one that is not the
            // Partner Account's is left out here, and the API says why at the field.
            let r = users_api::get_user(
                State(state.clone()),
                console.caller.clone(),
                Path((partner.to_string(), id.clone())),
            )
            .await;
            if let Ok(axum::Json(u)) = r {
                users.push(ContactUser {
                    id: u.id,
                    name: u.display_name,
                    email: u.email,
                    selected: true,
                });
            }
        }
    }
    let total = users.len() + listed.len();
    users.extend(listed.into_iter().map(|u| ContactUser {
        selected: chosen.contains(&u.id),
        id: u.id,
        name: u.display_name,
        email: u.email,
    }));
    let filter_url =
        (may_list && (more || total > FILTER_FROM)).then(|| contact_users_url(account));
    ContactChoice {
        users,
        filter_url,
        more,
    }
}

/// The htmx filter's request for the account being edited (`None` in Add Account).
fn contact_users_url(account: Option<&str>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("account", account.unwrap_or_default());
    format!("/console/accounts/contact-users?{}", s.finish())
}

#[derive(Template)]
#[template(path = "console/accounts/contact_select.html")]
struct ContactSelect {
    choice: ContactChoice,
    errors: Errors,
}

#[derive(Template)]
#[template(path = "console/accounts/contact_filter.html")]
struct ContactFilter {
    url: String,
}

/// For htmx: the Partner users list box filtered by `contact_q` (name or e-mail), keeping the chosen
/// `contact_user`s; with `part=filter`, the filter's input itself (so that a browser without JavaScript never
/// shows a filter that cannot work). `account` is the account being edited, empty in Add Account.
async fn contact_users(
    State(state): State<AppState>,
    console: Console,
    RawQuery(raw): RawQuery,
) -> Page {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let one = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let (partner, account, known) = if one("account").is_empty() {
        if !is_partner_staff(&console.caller.principal) {
            return Err(fail(
                Some(&console),
                ApiError::Forbidden("only partner staff add customer accounts".into()),
            ));
        }
        (console.caller.principal.home.id, None, Vec::new())
    } else {
        let ctx = console
            .account(&state, &one("account"), Feature::Account, Verb::View)
            .await?;
        let a = or_fail(
            &console,
            api::get_account(
                State(state.clone()),
                console.caller.clone(),
                Path(ctx.row.id.clone()),
            )
            .await,
        )?
        .0;
        (ctx.target.partner_root(), Some(a.id), a.support_contacts)
    };
    if one("part") == "filter" {
        return Ok(ok(&ContactFilter {
            url: contact_users_url(account.as_deref()),
        }));
    }
    let chosen: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "contact_user" && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let q = Some(one("contact_q")).filter(|q| !q.is_empty());
    let choice = contact_choice(
        &state,
        &console,
        partner,
        account.as_deref(),
        &chosen,
        &known,
        q,
    )
    .await;
    Ok(ok(&ContactSelect {
        choice,
        errors: Errors::default(),
    }))
}

async fn new_form(State(state): State<AppState>, console: Console) -> Page {
    if !is_partner_staff(&console.caller.principal) {
        return Err(fail(
            Some(&console),
            ApiError::Forbidden("only partner staff add customer accounts".into()),
        ));
    }
    let shell = Shell::new(&console, "Add Account", Section::Accounts, None);
    let partner = console.caller.principal.home.id;
    let choice = contact_choice(&state, &console, partner, None, &[], &[], None).await;
    Ok(ok(&NewPage {
        shell,
        f: AccountForm {
            default_language: "en-US".into(),
            ..AccountForm::default()
        },
        errors: Errors::default(),
        locations: state.config.cloud_locations.clone(),
        choice,
    }))
}

/// The e-mail addresses of the text area: one a line, or separated by commas or semicolons.
fn emails(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The contacts the form asks for, as the API takes them: the chosen Partner users, then the e-mails.
fn contacts(f: &AccountForm) -> Vec<ContactIn> {
    let users = f.contact_users.iter().map(|id| ContactIn {
        user_id: Some(id.clone()),
        email: None,
    });
    let emails = emails(&f.support_contacts).map(|e| ContactIn {
        user_id: None,
        email: Some(e.to_string()),
    });
    users.chain(emails).collect()
}

/// The chosen Partner users of a posted form (`contact_user`, repeated).
fn chosen_users<T>(posted: &Posted<T>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in posted.all("contact_user") {
        let id = id.trim().to_string();
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

fn blank_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The account fields' errors are reported by the API under their own names; a support contact's as
/// `support_contacts[i]`, in the order [`contacts`] sent them: the form shows it at the Partner users list
/// or at the e-mail text area, saying which e-mail it is about.
fn form_errors(err: ApiError, f: &AccountForm) -> Result<Errors, ApiError> {
    let err = match err {
        ApiError::BadRequest { field, detail } => {
            let (field, detail) = at_field(field, detail, f);
            ApiError::BadRequest { field, detail }
        }
        ApiError::Unprocessable { field, detail } => {
            let (field, detail) = at_field(field, detail, f);
            ApiError::Unprocessable { field, detail }
        }
        other => other,
    };
    Errors::from_api(err, ACCOUNT_FIELDS, None)
}

fn at_field(field: Option<String>, detail: String, f: &AccountForm) -> (Option<String>, String) {
    let Some(field) = field else {
        return (None, detail);
    };
    let base = field.split(['[', '.']).next().unwrap_or(&field).to_string();
    let index = field
        .strip_prefix("support_contacts[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    let Some(i) = index else {
        return (Some(base), detail);
    };
    let said = detail
        .strip_prefix(&format!("{field}: "))
        .unwrap_or(&detail)
        .to_string();
    let users = f.contact_users.len();
    if i < users {
        let said = said.replace("user_id", "a support contact");
        return (Some("contact_users".into()), capitalise(&said));
    }
    match emails(&f.support_contacts).nth(i - users) {
        Some(email) => (Some(base), format!("{email}: {said}")),
        None => (Some(base), capitalise(&said)),
    }
}

async fn create(State(state): State<AppState>, posted: Posted<AccountForm>) -> Page {
    let chosen = chosen_users(&posted);
    let Posted {
        console, mut form, ..
    } = posted;
    form.contact_users = chosen;
    if !is_partner_staff(&console.caller.principal) {
        return Err(fail(
            Some(&console),
            ApiError::Forbidden("only partner staff add customer accounts".into()),
        ));
    }
    let again = async |errors: Errors, form: AccountForm| {
        let shell = Shell::new(&console, "Add Account", Section::Accounts, None);
        let partner = console.caller.principal.home.id;
        let choice = contact_choice(
            &state,
            &console,
            partner,
            None,
            &form.contact_users,
            &[],
            None,
        )
        .await;
        render(
            StatusCode::BAD_REQUEST,
            &NewPage {
                shell,
                f: form,
                errors,
                locations: state.config.cloud_locations.clone(),
                choice,
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
            return Ok(again(errors, form).await);
        }
        let checks = [
            validate::required_text("admin_first_name", &form.admin_first_name, 100).err(),
            validate::required_text("admin_last_name", &form.admin_last_name, 100).err(),
            validate::email("admin_email", &form.admin_email).err(),
        ];
        if let Some(e) = checks.into_iter().flatten().next() {
            let errors = or_fail(&console, Errors::from_api(e.into(), ACCOUNT_FIELDS, None))?;
            return Ok(again(errors, form).await);
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
        support_contacts: contacts(&form),
    };
    let created =
        api::create_account(State(state.clone()), console.caller.clone(), Body(input)).await;
    let account = match created {
        Ok((_, axum::Json(a))) => a,
        Err(e) => {
            let errors = or_fail(&console, form_errors(e, &form))?;
            return Ok(again(errors, form).await);
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
    choice: ContactChoice,
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
            .filter(|c| c.user_id.is_none())
            .map(|c| c.email.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        contact_users: a
            .support_contacts
            .iter()
            .filter_map(|c| c.user_id.clone())
            .collect(),
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
    let choice = contact_choice(
        state,
        console,
        ctx.target.partner_root(),
        Some(&a.id),
        &f.contact_users,
        &a.support_contacts,
        None,
    )
    .await;
    Ok(render(
        status,
        &InfoPage {
            shell,
            f,
            errors,
            may_edit: principal.holds(Feature::Account, Verb::Edit),
            partner,
            registry,
            choice,
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
    let chosen = chosen_users(&posted);
    let Posted {
        console, mut form, ..
    } = posted;
    form.contact_users = chosen;
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
        support_contacts: Some(contacts(&form)),
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
            let errors = or_fail(&console, form_errors(e, &form))?;
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
