//! Import Users (spec §9) and the users export: the panel (the three steps, the template downloads, the
//! upload, the imports still waiting), the preview of a staged import with inline editing, Add Row, the trash,
//! Upload (the commit job, followed on the Users page) and Cancel. Every step calls the API's import handlers,
//! so the console and the API share the parser, the row rules, the policy, tenant isolation and the audit.
//!
//! Without JavaScript each preview row is a form with a Save button (its inputs join it through the `form`
//! attribute, as a form cannot wrap a table row); with htmx a changed cell saves on `change` and the preview
//! (banner and rows) is swapped in place, since fixing one row can clear or raise errors in the rows sharing
//! its e-mail.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use skybridge_domain::account::AccountKind;
use skybridge_domain::import::{Column, parse_role};
use skybridge_domain::permissions::{Feature, Verb};

use crate::api::imports::{
    self as api, FileQuery, ImportOut, ImportPage, RowOut, RowPatch, RowsQuery, UPLOAD_BODY,
};
use crate::api::json::{Body, Params};
use crate::error::ApiError;
use crate::state::AppState;

use super::form::Errors;
use super::session::{Console, InAccount, Posted, Uploaded};
use super::shell::{Section, Shell};
use super::{Page, fail, ok, or_fail, render, see_other};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/console/a/{account}/users/import",
            get(panel)
                .post(upload)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY)),
        )
        .route("/console/a/{account}/users/import/template", get(template))
        .route("/console/a/{account}/users/export", get(export))
        .route("/console/a/{account}/imports/{import}", get(preview))
        .route("/console/a/{account}/imports/{import}/rows", post(add_row))
        .route(
            "/console/a/{account}/imports/{import}/rows/{line}",
            post(save_row),
        )
        .route(
            "/console/a/{account}/imports/{import}/rows/{line}/delete",
            post(delete_row),
        )
        .route("/console/a/{account}/imports/{import}/commit", post(commit))
        .route(
            "/console/a/{account}/imports/{import}/cancel",
            get(discard_page).post(discard),
        )
}

/// Rows a preview page shows; the API allows up to 200.
const PAGE: i64 = 100;

/// The role drop-down's choices, as the template writes them.
const ROLES: [&str; 2] = ["User", "Account Admin"];

/// The text columns of the preview, in the template's order (ROLE is the drop-down).
const TEXT_COLUMNS: [Column; 4] = [
    Column::FirstName,
    Column::LastName,
    Column::Name,
    Column::Email,
];

/// The fields of a row form (and of the Add Row form).
const ROW_FIELDS: [&str; 5] = ["first_name", "last_name", "name", "email", "role"];

/// The import steps need Users ADD on a customer account: a Partner Account's users are added one by one.
async fn importing(
    state: &AppState,
    console: &Console,
    account: &str,
) -> Result<InAccount, Response> {
    let ctx = console
        .account(state, account, Feature::Users, Verb::Add)
        .await?;
    if ctx.target.kind == AccountKind::Partner {
        return Err(fail(
            Some(console),
            ApiError::Unprocessable {
                field: None,
                detail: "Users are imported into customer accounts; a Partner Account's users are added one by one".into(),
            },
        ));
    }
    Ok(ctx)
}

fn shell(console: &Console, ctx: &InAccount, title: impl Into<String>) -> Shell {
    Shell::new(
        console,
        title,
        Section::Users,
        Some((&ctx.target, &ctx.row)),
    )
}

// --- the panel -----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/imports/panel.html")]
struct PanelPage {
    shell: Shell,
    errors: Errors,
    pending: Vec<ImportOut>,
}

async fn panel_page(
    state: &AppState,
    console: &Console,
    ctx: &InAccount,
    errors: Errors,
    status: StatusCode,
) -> Page {
    // Imports still holding rows (an import whose rows were all created stays until it expires, empty).
    let pending = or_fail(
        console,
        api::list_imports(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
        )
        .await,
    )?
    .0
    .into_iter()
    .filter(|i| i.rows > 0)
    .collect();
    Ok(render(
        status,
        &PanelPage {
            shell: shell(console, ctx, "Import Users"),
            errors,
            pending,
        },
    ))
}

async fn panel(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
) -> Page {
    let ctx = importing(&state, &console, &account).await?;
    panel_page(&state, &console, &ctx, Errors::default(), StatusCode::OK).await
}

/// The panel's Upload: the file goes through the API's `stage` (parse, check every row, store); a file the
/// server cannot read comes back on the panel with the reason at the file field.
async fn upload(
    State(state): State<AppState>,
    Path(account): Path<String>,
    uploaded: Uploaded,
) -> Page {
    let Uploaded {
        console,
        file,
        error,
        ..
    } = uploaded;
    let ctx = importing(&state, &console, &account).await?;
    let staged = match (error, file) {
        (Some(e), _) => Err(e),
        (None, Some(f)) if !(f.file_name.is_empty() && f.bytes.is_empty()) => {
            // Browsers send the base name; some older ones the whole path.
            let name = f
                .file_name
                .rsplit(['/', '\\'])
                .next()
                .unwrap_or_default()
                .to_string();
            api::stage(&state, &console.caller, &ctx.row.id, &name, f.bytes).await
        }
        _ => Err(ApiError::bad(
            "file",
            "Choose the filled-in spreadsheet (.xlsx or .csv) to upload",
        )),
    };
    match staged {
        Ok(import) => Ok(see_other(&format!(
            "/console/a/{}/imports/{}",
            ctx.row.id, import.id
        ))),
        Err(ApiError::PayloadTooLarge(detail)) => {
            let errors = or_fail(
                &console,
                Errors::from_api(ApiError::bad("file", detail), &["file"], None),
            )?;
            panel_page(
                &state,
                &console,
                &ctx,
                errors,
                StatusCode::PAYLOAD_TOO_LARGE,
            )
            .await
        }
        Err(e) => {
            let status = e.status();
            let errors = or_fail(&console, Errors::from_api(e, &["file"], None))?;
            panel_page(&state, &console, &ctx, errors, status).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct FormatQuery {
    #[serde(default)]
    format: Option<String>,
}

/// The template, through the API's handler (the console is signed in by cookie, not by token).
async fn template(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Page {
    let ctx = importing(&state, &console, &account).await?;
    or_fail(
        &console,
        api::template(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Params(FileQuery {
                format: q.format,
                file_name: None,
            }),
        )
        .await,
    )
}

/// Export users as CSV / .xlsx (the Users page's menu): every user of the account, formulas neutralised.
async fn export(
    State(state): State<AppState>,
    console: Console,
    Path(account): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Page {
    let ctx = console
        .account(&state, &account, Feature::Users, Verb::View)
        .await?;
    or_fail(
        &console,
        api::export_users(
            State(state.clone()),
            console.caller.clone(),
            Path(ctx.row.id.clone()),
            Params(FileQuery {
                format: q.format,
                file_name: None,
            }),
        )
        .await,
    )
}

// --- the preview ---------------------------------------------------------------------------------------

/// Where in the preview the admin is: kept through every form, so a save comes back to the same rows.
#[derive(Deserialize, Default, Clone)]
pub struct View {
    /// Rows after this line.
    #[serde(default)]
    after: Option<i64>,
    /// `1`: only the rows with errors.
    #[serde(default)]
    invalid: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

impl View {
    fn after(&self) -> i64 {
        self.after.unwrap_or(0).max(0)
    }

    fn only_invalid(&self) -> bool {
        self.invalid.as_deref() == Some("1")
    }

    fn query(&self, after: i64, only_invalid: bool) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if after > 0 {
            s.append_pair("after", &after.to_string());
        }
        if only_invalid {
            s.append_pair("invalid", "1");
        }
        let q = s.finish();
        if q.is_empty() { q } else { format!("?{q}") }
    }
}

/// One text cell of a preview row.
pub struct CellView {
    pub key: &'static str,
    pub header: &'static str,
    pub value: String,
    /// Its problems, joined (they are listed under STATUS with the id `m-<line>-<key>`).
    pub message: Option<String>,
}

pub struct RowView {
    pub line: i64,
    pub valid: bool,
    pub cells: Vec<CellView>,
    /// The ROLE cell as staged.
    pub role: String,
    /// The drop-down's choice for it; `None` when it names no role (it is then offered as is, marked).
    pub role_choice: Option<&'static str>,
    pub role_message: Option<String>,
    /// `(key, message)` of each column with problems, for the STATUS cell.
    pub messages: Vec<(&'static str, String)>,
    /// What the server said about the last save of this row when it could not be kept (a value too long).
    pub save_error: Option<String>,
}

impl RowView {
    fn of(r: &RowOut) -> RowView {
        let message = |c: Column| -> Option<String> {
            let texts: Vec<&str> = r
                .issues
                .iter()
                .filter(|i| i.column == c.as_str())
                .map(|i| i.message.as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.join("; "))
        };
        let value = |c: Column| -> String {
            match c {
                Column::FirstName => r.first_name.clone(),
                Column::LastName => r.last_name.clone(),
                Column::Name => r.name.clone(),
                Column::Email => r.email.clone(),
                Column::Role => r.role.clone(),
            }
        };
        let cells = TEXT_COLUMNS
            .iter()
            .map(|c| CellView {
                key: c.as_str(),
                header: c.header(),
                value: value(*c),
                message: message(*c),
            })
            .collect();
        let messages = TEXT_COLUMNS
            .iter()
            .chain([Column::Role].iter())
            .filter_map(|c| message(*c).map(|m| (c.as_str(), m)))
            .collect();
        RowView {
            line: r.line,
            valid: r.valid,
            cells,
            role_choice: role_choice(&r.role),
            role: r.role.clone(),
            role_message: message(Column::Role),
            messages,
            save_error: None,
        }
    }

    /// The id of the STATUS message about `key`, for the cell's `aria-describedby`.
    fn describedby(&self, key: &str) -> String {
        format!("m-{}-{key}", self.line)
    }

    /// Whether the drop-down shows `choice` for this row.
    fn selected(&self, choice: &str) -> bool {
        self.role_choice == Some(choice)
    }
}

fn role_choice(raw: &str) -> Option<&'static str> {
    parse_role(raw).map(skybridge_domain::import::role_label)
}

#[derive(Template)]
#[template(path = "console/imports/preview.html")]
struct PreviewPage {
    shell: Shell,
    import: ImportOut,
    rows: Vec<RowView>,
    view: View,
    /// The `after` of the next page.
    next: Option<i64>,
    /// An error about the whole import (Upload refused), shown in the banner.
    general: Option<String>,
    /// The Add Row form's values and errors when the server refused them.
    new_row: NewRow,
    roles: &'static [&'static str],
    /// `(key, header)` of the text columns, for the Add Row cells.
    columns: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
pub struct NewRow {
    values: RowFields,
    errors: Errors,
}

impl PreviewPage {
    fn base(&self) -> String {
        format!("{}/imports/{}", self.shell.base(), self.import.id)
    }

    /// The query that brings back this view (page and filter).
    fn here(&self) -> String {
        self.view.query(self.view.after(), self.view.only_invalid())
    }

    fn filter_link(&self, only_invalid: bool) -> String {
        format!("{}{}", self.base(), self.view.query(0, only_invalid))
    }

    fn prev_link(&self) -> Option<String> {
        let after = self.view.after();
        // Paging is by line: the previous page starts a page's worth of lines earlier (gaps left by deleted
        // rows can only make it overlap this one, never skip a row).
        (after > 0).then(|| {
            format!(
                "{}{}",
                self.base(),
                self.view
                    .query((after - PAGE).max(0), self.view.only_invalid())
            )
        })
    }

    fn next_link(&self) -> Option<String> {
        self.next.map(|n| {
            format!(
                "{}{}",
                self.base(),
                self.view.query(n, self.view.only_invalid())
            )
        })
    }

    fn ready(&self) -> i64 {
        self.import.rows - self.import.invalid
    }

    fn new_value(&self, key: &str) -> &str {
        self.new_row.values.get(key)
    }
}

/// Posted values of a row (the row forms and Add Row).
#[derive(Deserialize, Default, Clone)]
pub struct RowFields {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    invalid: Option<String>,
}

impl RowFields {
    fn get(&self, key: &str) -> &str {
        match key {
            "first_name" => &self.first_name,
            "last_name" => &self.last_name,
            "name" => &self.name,
            "email" => &self.email,
            "role" => &self.role,
            _ => "",
        }
    }

    fn view(&self) -> View {
        View {
            after: self.after,
            invalid: self.invalid.clone(),
            notice: None,
        }
    }
}

async fn load(
    state: &AppState,
    console: &Console,
    ctx: &InAccount,
    import: &str,
    after: i64,
    limit: i64,
    only_invalid: bool,
) -> Result<ImportPage, ApiError> {
    api::get_import(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), import.to_string())),
        Params(RowsQuery {
            after: Some(after),
            limit: Some(limit),
            invalid: Some(only_invalid),
        }),
    )
    .await
    .map(|j| j.0)
}

/// What a preview page shows besides the stored rows: a refused edit, a refused Add Row, a refused Upload.
#[derive(Default)]
struct Refusals {
    row: Option<(i64, RowFields, String)>,
    new_row: NewRow,
    general: Option<String>,
}

async fn preview_page(
    state: &AppState,
    console: &Console,
    ctx: &InAccount,
    import: &str,
    view: View,
    refused: Refusals,
    status: StatusCode,
) -> Page {
    let page = or_fail(
        console,
        load(
            state,
            console,
            ctx,
            import,
            view.after(),
            PAGE,
            view.only_invalid(),
        )
        .await,
    )?;
    let mut rows: Vec<RowView> = page.items.iter().map(RowView::of).collect();
    if let Some((line, values, why)) = refused.row
        && let Some(r) = rows.iter_mut().find(|r| r.line == line)
    {
        // What was typed stays in the row, with why it was not kept.
        for c in &mut r.cells {
            c.value = values.get(c.key).to_string();
        }
        r.save_error = Some(why);
    }
    let title = format!("Import Users · {}", page.import.file_name);
    let shell = shell(console, ctx, title).with_notice(view.notice.as_deref());
    Ok(render(
        status,
        &PreviewPage {
            shell,
            import: page.import,
            rows,
            next: page.next_after,
            view,
            general: refused.general,
            new_row: refused.new_row,
            roles: &ROLES,
            columns: TEXT_COLUMNS
                .iter()
                .map(|c| (c.as_str(), c.header()))
                .collect(),
        },
    ))
}

async fn preview(
    State(state): State<AppState>,
    console: Console,
    Path((account, import)): Path<(String, String)>,
    Query(view): Query<View>,
) -> Page {
    let ctx = importing(&state, &console, &account).await?;
    preview_page(
        &state,
        &console,
        &ctx,
        &import,
        view,
        Refusals::default(),
        StatusCode::OK,
    )
    .await
}

/// Back to the preview after a change. htmx follows the redirect and takes the preview from the page.
fn back(ctx: &InAccount, import: &str, view: &View, anchor: Option<i64>) -> Response {
    let fragment = anchor.map(|l| format!("#row-{l}")).unwrap_or_default();
    see_other(&format!(
        "/console/a/{}/imports/{import}{}{fragment}",
        ctx.row.id,
        view.query(view.after(), view.only_invalid())
    ))
}

/// A refused change is shown on the page; htmx swaps only successful answers, so it gets a 200.
fn refusal_status(headers: &HeaderMap) -> StatusCode {
    if headers.contains_key("hx-request") {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// Saves a row: only the cells that changed are sent (a cell left alone keeps its formula mark); a Save
/// with nothing changed confirms the values shown in the cells that held formulas.
async fn save_row(
    State(state): State<AppState>,
    Path((account, import, line)): Path<(String, String, i64)>,
    headers: HeaderMap,
    posted: Posted<RowFields>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = importing(&state, &console, &account).await?;
    let view = form.view();
    let current = or_fail(
        &console,
        load(
            &state,
            &console,
            &ctx,
            &import,
            line.saturating_sub(1),
            1,
            false,
        )
        .await,
    )?
    .items
    .into_iter()
    .next()
    .filter(|r| r.line == line)
    .ok_or_else(|| fail(Some(&console), ApiError::NotFound("row")))?;
    let mut patch = RowPatch {
        first_name: None,
        last_name: None,
        name: None,
        email: None,
        role: None,
    };
    let changed = |new: &str, old: &str| (new.trim() != old.trim()).then(|| new.to_string());
    patch.first_name = changed(&form.first_name, &current.first_name);
    patch.last_name = changed(&form.last_name, &current.last_name);
    patch.name = changed(&form.name, &current.name);
    patch.email = changed(&form.email, &current.email);
    // "User" for a blank ROLE is the same role: not a change.
    if form.role.trim() != current.role.trim()
        && (parse_role(&form.role).is_none() || parse_role(&form.role) != parse_role(&current.role))
    {
        patch.role = Some(form.role.clone());
    }
    let nothing = patch.first_name.is_none()
        && patch.last_name.is_none()
        && patch.name.is_none()
        && patch.email.is_none()
        && patch.role.is_none();
    if nothing {
        for i in current.issues.iter().filter(|i| i.code == "formula") {
            let v = Some(form.get(&i.column).to_string());
            match i.column.as_str() {
                "first_name" => patch.first_name = v,
                "last_name" => patch.last_name = v,
                "name" => patch.name = v,
                "email" => patch.email = v,
                "role" => patch.role = v,
                _ => {}
            }
        }
    }
    if patch.first_name.is_none()
        && patch.last_name.is_none()
        && patch.name.is_none()
        && patch.email.is_none()
        && patch.role.is_none()
    {
        // Nothing to change or confirm: no call, so no audit event for an edit that did nothing.
        return Ok(back(&ctx, &import, &view, None));
    }
    let r = api::edit_row(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), import.clone(), line)),
        Body(patch),
    )
    .await;
    match r {
        Ok(_) => Ok(back(&ctx, &import, &view, None)),
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, &ROW_FIELDS, None))?;
            let why = ROW_FIELDS
                .iter()
                .find_map(|f| errors.get(f))
                .or(errors.general.as_deref())
                .unwrap_or("The row could not be saved")
                .to_string();
            preview_page(
                &state,
                &console,
                &ctx,
                &import,
                view,
                Refusals {
                    row: Some((line, form, why)),
                    ..Refusals::default()
                },
                refusal_status(&headers),
            )
            .await
        }
    }
}

/// Add Row: a row with what was typed (blank cells allowed: the row then shows what it still needs).
async fn add_row(
    State(state): State<AppState>,
    Path((account, import)): Path<(String, String)>,
    headers: HeaderMap,
    posted: Posted<RowFields>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = importing(&state, &console, &account).await?;
    let view = form.view();
    let given = |s: &str| Some(s.to_string()).filter(|s| !s.trim().is_empty());
    let r = api::add_row(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), import.clone())),
        Body(RowPatch {
            first_name: given(&form.first_name),
            last_name: given(&form.last_name),
            name: given(&form.name),
            email: given(&form.email),
            role: given(&form.role),
        }),
    )
    .await;
    match r {
        Ok((_, row)) => {
            // The new row has the highest line: show the last page's worth of lines, which holds it.
            let line = row.0.line;
            let total = or_fail(
                &console,
                load(&state, &console, &ctx, &import, 0, 1, false).await,
            )?
            .import
            .rows;
            let after = if total <= PAGE {
                0
            } else {
                (line - PAGE).max(0)
            };
            let to = View {
                after: Some(after),
                ..view
            };
            Ok(back(&ctx, &import, &to, Some(line)))
        }
        Err(e) => {
            let errors = or_fail(&console, Errors::from_api(e, &ROW_FIELDS, None))?;
            preview_page(
                &state,
                &console,
                &ctx,
                &import,
                view,
                Refusals {
                    new_row: NewRow {
                        values: form,
                        errors,
                    },
                    ..Refusals::default()
                },
                refusal_status(&headers),
            )
            .await
        }
    }
}

/// The trash of a row.
async fn delete_row(
    State(state): State<AppState>,
    Path((account, import, line)): Path<(String, String, i64)>,
    posted: Posted<RowFields>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = importing(&state, &console, &account).await?;
    or_fail(
        &console,
        api::delete_row(
            State(state.clone()),
            console.caller.clone(),
            Path((ctx.row.id.clone(), import.clone(), line)),
        )
        .await,
    )?;
    Ok(back(&ctx, &import, &form.view(), None))
}

/// Upload: the valid rows become users in a job; its progress shows on the Users page. Rows with errors stay
/// in the preview (partial commit).
async fn commit(
    State(state): State<AppState>,
    Path((account, import)): Path<(String, String)>,
    posted: Posted<RowFields>,
) -> Page {
    let Posted { console, form, .. } = posted;
    let ctx = importing(&state, &console, &account).await?;
    let r = api::commit_import(
        State(state.clone()),
        console.caller.clone(),
        Path((ctx.row.id.clone(), import.clone())),
    )
    .await;
    match r {
        Ok(resp) => {
            // 202 with the job as JSON: its id is what the Users page's progress panel follows.
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .map_err(|e| fail(Some(&console), ApiError::Internal(e.into())))?;
            let job: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| fail(Some(&console), ApiError::Internal(e.into())))?;
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("notice", "import-started")
                .append_pair("job", job["id"].as_str().unwrap_or_default());
            Ok(see_other(&format!(
                "/console/a/{}/users?{}",
                ctx.row.id,
                s.finish()
            )))
        }
        Err(e @ (ApiError::Unprocessable { .. } | ApiError::Conflict(_))) => {
            let status = e.status();
            let why = match e {
                ApiError::Unprocessable { detail, .. } => detail,
                ApiError::Conflict(detail) => detail,
                _ => String::new(),
            };
            preview_page(
                &state,
                &console,
                &ctx,
                &import,
                form.view(),
                Refusals {
                    general: Some(why),
                    ..Refusals::default()
                },
                status,
            )
            .await
        }
        Err(e) => Err(fail(Some(&console), e)),
    }
}

#[derive(Template)]
#[template(path = "console/imports/discard.html")]
struct DiscardPage {
    shell: Shell,
    import: ImportOut,
    back: String,
}

/// Cancel: asks before the staged rows are thrown away.
async fn discard_page(
    State(state): State<AppState>,
    console: Console,
    Path((account, import)): Path<(String, String)>,
    Query(view): Query<View>,
) -> Page {
    let ctx = importing(&state, &console, &account).await?;
    let page = or_fail(
        &console,
        load(&state, &console, &ctx, &import, 0, 1, false).await,
    )?;
    let back = format!(
        "/console/a/{}/imports/{}{}",
        ctx.row.id,
        page.import.id,
        view.query(view.after(), view.only_invalid())
    );
    Ok(ok(&DiscardPage {
        shell: shell(&console, &ctx, "Cancel the import?"),
        import: page.import,
        back,
    }))
}

async fn discard(
    State(state): State<AppState>,
    Path((account, import)): Path<(String, String)>,
    posted: Posted<RowFields>,
) -> Page {
    let console = posted.console;
    let ctx = importing(&state, &console, &account).await?;
    or_fail(
        &console,
        api::cancel_import(
            State(state.clone()),
            console.caller.clone(),
            Path((ctx.row.id.clone(), import)),
        )
        .await,
    )?;
    Ok(see_other(&format!(
        "/console/a/{}/users?notice=import-cancelled",
        ctx.row.id
    )))
}
