//! Bulk import of users (spec §9): the template, the upload into a staged import, the preview with its
//! per-cell problems, edits that re-check the rows they touch, the commit (a job), cancel, and the export of
//! an account's users as CSV or .xlsx.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use skybridge_domain::account::AccountKind;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::import::{self as rules, Column, RowValues, Surroundings};
use skybridge_domain::job::{JobKind, JobState};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope};
use skybridge_sheet::{Limits, SheetError};
use skybridge_store::imports::{self as store, ImportRow, StagedRow};
use skybridge_store::{Exec, Tx, users as user_store};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::{Body, Params};
use super::{audit, authorized, ensure_active};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// An upload's size limit, with room for a multipart envelope around a 20 MiB file.
pub const UPLOAD_BODY: usize = (20 << 20) + (64 << 10);
/// Workbooks parsed at once on this node.
static PARSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A cell's text without NUL characters, which PostgreSQL's text cannot hold (a CSV may carry them; the row
/// is then checked on what is left, on either store alike).
fn no_nul(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "")
    } else {
        s
    }
}

/// Stages from this many rows refresh the database's statistics of staged rows.
const ANALYZE_ROWS: usize = 1000;
/// The longest value a cell edit may hold (as a sheet's cell).
const CELL_MAX: usize = 4096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template))
        .routes(routes!(export_users))
        .routes(routes!(list_imports))
        .routes(routes!(get_import, cancel_import))
        .routes(routes!(add_row))
        .routes(routes!(edit_row, delete_row))
        .routes(routes!(commit_import))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload))
                .layer(axum::extract::DefaultBodyLimit::max(UPLOAD_BODY)),
        )
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportOut {
    pub id: String,
    pub account_id: String,
    pub file_name: String,
    /// Rows still staged.
    pub rows: i64,
    /// Staged rows with at least one problem.
    pub invalid: i64,
    /// Users this import has created so far.
    pub created: i64,
    /// The last commit job, if any (`GET /api/v1/jobs/{id}`).
    pub job_id: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssueOut {
    /// `first_name`, `last_name`, `name`, `email` or `role`.
    pub column: String,
    /// `required`, `invalid`, `too_long`, `exists`, `duplicate`, `role`, `formula` or `not_allowed`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowOut {
    /// The row's number in the sheet (the header is row 1); added rows get the numbers after the last.
    pub line: i64,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub valid: bool,
    pub issues: Vec<IssueOut>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportPage {
    pub import: ImportOut,
    pub items: Vec<RowOut>,
    /// Pass as `after` for the next rows.
    pub next_after: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RowsQuery {
    /// Rows after this line.
    pub after: Option<i64>,
    pub limit: Option<i64>,
    /// Only the rows with problems.
    pub invalid: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// `xlsx` (default) or `csv`.
    pub format: Option<String>,
    /// The uploaded file's name, for the preview's title.
    pub file_name: Option<String>,
}

/// Output format of a template or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    pub fn parse(s: Option<&str>) -> ApiResult<Format> {
        match s.unwrap_or("xlsx") {
            "xlsx" => Ok(Format::Xlsx),
            "csv" => Ok(Format::Csv),
            other => Err(ApiError::bad(
                "format",
                format!("format must be xlsx or csv, not {other:?}"),
            )),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }
}

pub fn download(format: Format, name: &str, bytes: Vec<u8>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{name}.{}\"",
        format.extension()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    (StatusCode::OK, headers, bytes).into_response()
}

fn sheet_error(e: SheetError) -> ApiError {
    match e {
        SheetError::TooLarge { .. } | SheetError::TooLargeUnpacked { .. } => {
            ApiError::PayloadTooLarge(e.to_string())
        }
        SheetError::Write(m) => ApiError::Internal(anyhow::anyhow!("writing a sheet: {m}")),
        other => ApiError::Unprocessable {
            field: Some("file".into()),
            detail: other.to_string(),
        },
    }
}

/// The template to fill in: the five columns, an example row, and a drop-down of roles.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/import/template", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), FileQuery),
    responses((status = 200, description = "The template file"), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn template(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FileQuery>,
) -> ApiResult<Response> {
    let format = Format::parse(q.format.as_deref())?;
    let mut db = state.store.handle().await?;
    authorized(&mut db, &caller, &account, Feature::Users, Verb::Add).await?;
    let bytes = match format {
        Format::Xlsx => skybridge_sheet::users::template_xlsx().map_err(sheet_error)?,
        Format::Csv => skybridge_sheet::users::template_csv(),
    };
    Ok(download(format, "users-import-template", bytes))
}

/// The account's users as a sheet in the template's columns (plus the user's id and state), formulas
/// neutralised.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/users/export", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), FileQuery),
    responses((status = 200, description = "The users"), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn export_users(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FileQuery>,
) -> ApiResult<Response> {
    let format = Format::parse(q.format.as_deref())?;
    let mut db = state.store.handle().await?;
    let (target, scope) =
        authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    const HEADERS: [&str; 8] = [
        "FIRST NAME",
        "LAST NAME",
        "NAME",
        "EMAIL",
        "ROLE",
        "ID",
        "REGISTERED",
        "ACTIVE",
    ];
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        let page = user_store::export_page(&mut db, &scope, &after, 1000).await?;
        let done = page.len() < 1000;
        if let Some(last) = page.last() {
            after = last.id.clone();
        }
        for u in page {
            rows.push(vec![
                u.first_name.unwrap_or_default(),
                u.last_name.unwrap_or_default(),
                u.display_name,
                u.email,
                role_label(&u.role),
                u.id,
                if u.registered { "yes" } else { "no" }.to_string(),
                if u.active { "yes" } else { "no" }.to_string(),
            ]);
        }
        if done {
            break;
        }
    }
    let bytes = tokio::task::spawn_blocking(move || match format {
        Format::Xlsx => skybridge_sheet::write_xlsx("Users", &HEADERS, rows),
        Format::Csv => Ok(skybridge_sheet::write_csv(&HEADERS, rows)),
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(sheet_error)?;
    Ok(download(format, &format!("users-{}", target.id), bytes))
}

fn role_label(key: &str) -> String {
    match key {
        "user" => "User".into(),
        "account_admin" => "Account Admin".into(),
        "partner" => "Partner".into(),
        other => other.to_string(),
    }
}

/// Upload a filled-in template (.xlsx or .csv, the body as is) into a new staged import. Every row is
/// checked; nothing is created until the import is committed.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/imports", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), FileQuery),
    request_body(content = Vec<u8>, description = "The .xlsx or .csv file", content_type = "application/octet-stream"),
    responses((status = 201, body = ImportOut), (status = 413, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<FileQuery>,
    body: RawBody,
) -> ApiResult<(StatusCode, HeaderMap, Json<ImportOut>)> {
    let bytes = axum::body::to_bytes(body, UPLOAD_BODY).await.map_err(|_| {
        sheet_error(SheetError::TooLarge {
            max_bytes: 20 << 20,
        })
    })?;
    let name = q.file_name.unwrap_or_else(|| "upload".into());
    let out = stage(&state, &caller, &account, &name, bytes.to_vec()).await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "/api/v1/accounts/{}/imports/{}",
        out.account_id, out.id
    )) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, headers, Json(out)))
}

/// Who may import into `target`, and whether they may hand out Account Admin.
fn importing(caller: &Caller, target: &AccountRef) -> ApiResult<bool> {
    ensure_active(target)?;
    if target.kind == AccountKind::Partner {
        return Err(ApiError::Unprocessable {
            field: None,
            detail: "users are imported into customer accounts; a Partner Account's users are added one by one".into(),
        });
    }
    Ok(rules::may_assign_admin(&caller.principal, target))
}

/// Parses and checks a sheet and stages its rows; the console's upload calls this too.
pub(crate) async fn stage(
    state: &AppState,
    caller: &Caller,
    account: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> ApiResult<ImportOut> {
    // Refuse before parsing: an unauthorised caller must not learn anything about its file.
    let (target, scope) = {
        let mut db = state.store.handle().await?;
        authorized(&mut db, caller, account, Feature::Users, Verb::Add).await?
    };
    let may_admin = importing(caller, &target)?;
    let file_name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    // A workbook's parse holds its strings in memory (up to ~100 MB for the largest allowed): a node parses
    // two at a time, so concurrent uploads cannot add up beyond that.
    let _permit = PARSING
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let parsed = tokio::task::spawn_blocking(move || {
        skybridge_sheet::users::read_users(&bytes, &Limits::default())
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(sheet_error)?;
    drop(_permit);
    if parsed.is_empty() {
        return Err(ApiError::Unprocessable {
            field: Some("file".into()),
            detail: "The file has a header row but no users; fill in at least one row.".into(),
        });
    }

    let values: Vec<(i64, RowValues, Vec<Column>)> = parsed
        .into_iter()
        .map(|r| {
            let formulas = r
                .formulas
                .iter()
                .filter_map(|(h, _)| Column::ALL.into_iter().find(|c| c.header() == *h))
                .collect();
            (
                r.line as i64,
                RowValues {
                    first_name: no_nul(r.first_name),
                    last_name: no_nul(r.last_name),
                    name: no_nul(r.name),
                    email: no_nul(r.email),
                    role: no_nul(r.role),
                },
                formulas,
            )
        })
        .collect();
    let keys: Vec<Option<String>> = values.iter().map(|(_, v, _)| v.email_key()).collect();
    let wanted: Vec<String> = keys
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Read before the write transaction, which on SQLite holds the one write lock: a user added in between
    // is caught again by the commit, which checks each row as it creates it.
    let taken = {
        let mut db = state.store.handle().await?;
        user_store::taken_email_keys(&mut db, &scope, &wanted).await?
    };
    let mut tx = state.store.begin().await?;
    let repeats = rules::repeats(
        values
            .iter()
            .zip(&keys)
            .map(|((line, _, _), k)| (*line as usize, k.as_deref())),
    );
    let rows: Vec<StagedRow> = values
        .into_iter()
        .zip(keys)
        .zip(repeats)
        .map(|(((line, v, formulas), key), repeats_line)| {
            let around = Surroundings {
                email_taken: key.as_ref().is_some_and(|k| taken.contains(k)),
                repeats_line,
                formulas,
                may_assign_admin: may_admin,
            };
            staged(line, v, key, &around)
        })
        .collect();
    let now = state.now();
    let next_line = rows.last().map_or(2, |r| r.line + 1);
    let import = ImportRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: target.id.to_string(),
        created_by: caller.principal.user_id.to_string(),
        file_name,
        created_at: now,
        expires_at: now + rules::STAGE_TTL_MICROS,
        next_line,
        job_id: None,
        created: 0,
    };
    store::create(&mut tx, &scope, &import).await?;
    store::insert_rows(&mut tx, &scope, &import.id, &rows).await?;
    let invalid = rows.iter().filter(|r| !r.valid).count();
    audit(
        &mut tx,
        state,
        caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Create,
            "User Import",
            &import.id,
        )
        .detail("file_name", import.file_name.clone())
        .detail("rows", rows.len())
        .detail("invalid_rows", invalid)
        .tag("import"),
    )
    .await?;
    tx.commit().await?;
    if rows.len() >= ANALYZE_ROWS
        && let Err(e) = store::analyze(&state.store).await
    {
        // Only the commit's speed depends on it.
        tracing::warn!(error = %e, "refreshing the statistics of staged rows failed");
    }
    Ok(import_out(&import, rows.len() as i64, invalid as i64))
}

/// Whether the import's last commit job is still queued or running.
async fn running(db: &mut impl Exec, scope: &AccountScope, job: Option<&str>) -> ApiResult<bool> {
    let Some(job) = job else { return Ok(false) };
    Ok(skybridge_store::jobs::get(db, scope, job)
        .await?
        .and_then(|j| j.state())
        .is_some_and(|s| matches!(s, JobState::Queued | JobState::Running)))
}

/// How a row's formula columns are stored: their names, comma-separated ([`formulas_of`] reads them).
fn formulas_text(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn formulas_of(s: &str) -> Vec<Column> {
    s.split(',').filter_map(Column::parse).collect()
}

pub(crate) fn staged(
    line: i64,
    v: RowValues,
    key: Option<String>,
    around: &Surroundings,
) -> StagedRow {
    let issues = rules::check(&v, around);
    StagedRow {
        line,
        valid: issues.is_empty(),
        issues: serde_json::to_string(&issues).unwrap_or_else(|_| "[]".into()),
        formulas: formulas_text(&around.formulas),
        first_name: v.first_name,
        last_name: v.last_name,
        name: v.name,
        email: v.email,
        role: v.role,
        email_key: key,
    }
}

pub(crate) fn values_of(r: &StagedRow) -> RowValues {
    RowValues {
        first_name: r.first_name.clone(),
        last_name: r.last_name.clone(),
        name: r.name.clone(),
        email: r.email.clone(),
        role: r.role.clone(),
    }
}

pub(crate) fn row_out(r: &StagedRow) -> RowOut {
    let issues: Vec<rules::Issue> = serde_json::from_str(&r.issues).unwrap_or_default();
    RowOut {
        line: r.line,
        first_name: r.first_name.clone(),
        last_name: r.last_name.clone(),
        name: r.name.clone(),
        email: r.email.clone(),
        role: r.role.clone(),
        valid: r.valid,
        issues: issues
            .into_iter()
            .map(|i| IssueOut {
                column: i.column.as_str().to_string(),
                code: i.code,
                message: i.message,
            })
            .collect(),
    }
}

fn import_out(i: &ImportRow, rows: i64, invalid: i64) -> ImportOut {
    ImportOut {
        id: i.id.clone(),
        account_id: i.account_id.clone(),
        file_name: i.file_name.clone(),
        rows,
        invalid,
        created: i.created,
        job_id: i.job_id.clone(),
        created_at: rfc3339(i.created_at),
        expires_at: rfc3339(i.expires_at),
    }
}

/// Re-checks the rows sharing an e-mail key with `keys` (an edit may have made or broken a duplicate),
/// writing back those whose verdict changed. `formulas` of an edited row were updated by the caller.
async fn recheck(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    keys: &[String],
    may_admin: bool,
) -> ApiResult<()> {
    let group = store::rows_with_keys(tx, scope, import, keys).await?;
    let taken = user_store::taken_email_keys(tx, scope, keys).await?;
    let repeats = rules::repeats(
        group
            .iter()
            .map(|r| (r.line as usize, r.email_key.as_deref())),
    );
    for (r, repeats_line) in group.iter().zip(repeats) {
        let around = Surroundings {
            email_taken: r.email_key.as_ref().is_some_and(|k| taken.contains(k)),
            repeats_line,
            formulas: formulas_of(&r.formulas),
            may_assign_admin: may_admin,
        };
        let fresh = staged(r.line, values_of(r), r.email_key.clone(), &around);
        if fresh != *r {
            store::update_row(tx, scope, import, &fresh).await?;
        }
    }
    Ok(())
}

/// Re-checks one row on its own and with the rows its old and new e-mail collide with.
async fn recheck_row(
    tx: &mut Tx,
    scope: &AccountScope,
    import: &str,
    row: StagedRow,
    old_key: Option<String>,
    may_admin: bool,
) -> ApiResult<()> {
    // Written first so the group query sees its new key.
    let around = Surroundings {
        formulas: formulas_of(&row.formulas),
        may_assign_admin: may_admin,
        ..Surroundings::default()
    };
    let key = values_of(&row).email_key();
    let provisional = staged(row.line, values_of(&row), key.clone(), &around);
    store::update_row(tx, scope, import, &provisional).await?;
    let keys: Vec<String> = old_key
        .into_iter()
        .chain(key)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    recheck(tx, scope, import, &keys, may_admin).await
}

/// The audit event of a change to one staged row (`what`: `row`, `row_added` or `row_deleted`).
async fn row_event(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    target: &AccountRef,
    import: &str,
    what: &str,
    line: i64,
) -> ApiResult<()> {
    audit(
        tx,
        state,
        caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Edit,
            "User Import",
            import,
        )
        .detail(what, line)
        .tag("import"),
    )
    .await
}

async fn open(
    db: &mut impl Exec,
    state: &AppState,
    caller: &Caller,
    account: &str,
    import: &str,
) -> ApiResult<(AccountRef, AccountScope, ImportRow)> {
    let (target, scope) = authorized(db, caller, account, Feature::Users, Verb::Add).await?;
    let row = store::get(db, &scope, import, state.now())
        .await?
        .ok_or(ApiError::NotFound("import"))?;
    Ok((target, scope, row))
}

/// As [`open`], for a change: the stage is locked for the rest of `tx`, so changes to one import are made one
/// after another (see [`store::lock`]).
async fn open_locked(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    account: &str,
    import: &str,
) -> ApiResult<(AccountRef, AccountScope, ImportRow)> {
    let (target, scope) = authorized(tx, caller, account, Feature::Users, Verb::Add).await?;
    if !store::lock(tx, &scope, import, state.now()).await? {
        return Err(ApiError::NotFound("import"));
    }
    let row = store::get(tx, &scope, import, state.now())
        .await?
        .ok_or(ApiError::NotFound("import"))?;
    Ok((target, scope, row))
}

/// The account's staged imports that have not expired.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/imports", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number")),
    responses((status = 200, body = Vec<ImportOut>), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn list_imports(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
) -> ApiResult<Json<Vec<ImportOut>>> {
    let mut db = state.store.handle().await?;
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::Add).await?;
    let mut out = Vec::new();
    for i in store::list(&mut db, &scope, state.now()).await? {
        let (rows, invalid) = store::counts(&mut db, &scope, &i.id).await?;
        out.push(import_out(&i, rows, invalid));
    }
    Ok(Json(out))
}

/// A staged import and a page of its rows, with each row's problems.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/imports/{import}", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path), RowsQuery),
    responses((status = 200, body = ImportPage), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_import(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import)): Path<(String, String)>,
    Params(q): Params<RowsQuery>,
) -> ApiResult<Json<ImportPage>> {
    let limit = super::page::limit(q.limit)?;
    let mut db = state.store.handle().await?;
    let (_, scope, i) = open(&mut db, &state, &caller, &account, &import).await?;
    let rows = store::rows(
        &mut db,
        &scope,
        &i.id,
        q.after.unwrap_or(0),
        limit + 1,
        q.invalid.unwrap_or(false),
    )
    .await?;
    let (total, invalid) = store::counts(&mut db, &scope, &i.id).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<RowOut> = rows.iter().take(limit as usize).map(row_out).collect();
    Ok(Json(ImportPage {
        import: import_out(&i, total, invalid),
        next_after: more.then(|| items.last().map(|r| r.line)).flatten(),
        items,
    }))
}

fn patched(mut v: RowValues, patch: RowPatch, formulas: &mut Vec<Column>) -> ApiResult<RowValues> {
    for (c, value) in [
        (Column::FirstName, patch.first_name),
        (Column::LastName, patch.last_name),
        (Column::Name, patch.name),
        (Column::Email, patch.email),
        (Column::Role, patch.role),
    ] {
        if let Some(value) = value {
            if value.contains('\0') {
                return Err(ApiError::bad(
                    c.as_str(),
                    format!("{} must not contain NUL characters", c.header()),
                ));
            }
            if value.chars().count() > CELL_MAX {
                return Err(ApiError::bad(
                    c.as_str(),
                    format!("{} must be at most {CELL_MAX} characters", c.header()),
                ));
            }
            // A typed value replaces what a formula computed.
            formulas.retain(|f| *f != c);
            v.set(c, value);
        }
    }
    Ok(v)
}

/// Change cells of a staged row; the row and those sharing its old or new e-mail are checked again.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/imports/{import}/rows/{line}", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path), ("line" = i64, Path)),
    request_body = RowPatch,
    responses((status = 200, body = RowOut), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn edit_row(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import, line)): Path<(String, String, i64)>,
    Body(patch): Body<RowPatch>,
) -> ApiResult<Json<RowOut>> {
    let mut tx = state.store.begin().await?;
    let (target, scope, i) = open_locked(&mut tx, &state, &caller, &account, &import).await?;
    let may_admin = importing(&caller, &target)?;
    let old = store::row(&mut tx, &scope, &i.id, line)
        .await?
        .ok_or(ApiError::NotFound("row"))?;
    let mut formulas = formulas_of(&old.formulas);
    let values = patched(values_of(&old), patch, &mut formulas)?;
    let edited = StagedRow {
        first_name: values.first_name,
        last_name: values.last_name,
        name: values.name,
        email: values.email,
        role: values.role,
        formulas: formulas_text(&formulas),
        ..old.clone()
    };
    recheck_row(&mut tx, &scope, &i.id, edited, old.email_key, may_admin).await?;
    let row = store::row(&mut tx, &scope, &i.id, line)
        .await?
        .ok_or(ApiError::NotFound("row"))?;
    row_event(&mut tx, &state, &caller, &target, &i.id, "row", line).await?;
    tx.commit().await?;
    Ok(Json(row_out(&row)))
}

/// Add a row (Add Row in the preview).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/imports/{import}/rows", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path)),
    request_body = RowPatch,
    responses((status = 201, body = RowOut), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn add_row(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import)): Path<(String, String)>,
    Body(patch): Body<RowPatch>,
) -> ApiResult<(StatusCode, Json<RowOut>)> {
    let mut tx = state.store.begin().await?;
    let (target, scope, i) = open_locked(&mut tx, &state, &caller, &account, &import).await?;
    let may_admin = importing(&caller, &target)?;
    let (total, _) = store::counts(&mut tx, &scope, &i.id).await?;
    if total as usize >= rules::MAX_ROWS {
        return Err(ApiError::Unprocessable {
            field: None,
            detail: format!("an import holds at most {} rows", rules::MAX_ROWS),
        });
    }
    let values = patched(RowValues::default(), patch, &mut Vec::new())?;
    let line = store::take_line(&mut tx, &scope, &i.id)
        .await?
        .ok_or(ApiError::NotFound("import"))?;
    // Inserted unchecked; `recheck_row` gives it (and any row sharing its e-mail) the verdict.
    let row = staged(line, values, None, &Surroundings::default());
    store::insert_rows(&mut tx, &scope, &i.id, std::slice::from_ref(&row)).await?;
    recheck_row(&mut tx, &scope, &i.id, row, None, may_admin).await?;
    let row = store::row(&mut tx, &scope, &i.id, line)
        .await?
        .ok_or(ApiError::NotFound("row"))?;
    row_event(&mut tx, &state, &caller, &target, &i.id, "row_added", line).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(row_out(&row))))
}

/// Remove a row from the stage; rows that repeated its e-mail are checked again.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/imports/{import}/rows/{line}", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path), ("line" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn delete_row(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import, line)): Path<(String, String, i64)>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    let (target, scope, i) = open_locked(&mut tx, &state, &caller, &account, &import).await?;
    let may_admin = importing(&caller, &target)?;
    let old = store::row(&mut tx, &scope, &i.id, line)
        .await?
        .ok_or(ApiError::NotFound("row"))?;
    store::delete_row(&mut tx, &scope, &i.id, line).await?;
    let keys: Vec<String> = old.email_key.into_iter().collect();
    recheck(&mut tx, &scope, &i.id, &keys, may_admin).await?;
    row_event(
        &mut tx,
        &state,
        &caller,
        &target,
        &i.id,
        "row_deleted",
        line,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Discard a staged import (Cancel).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/imports/{import}", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn cancel_import(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut tx = state.store.begin().await?;
    let (target, scope, i) = open_locked(&mut tx, &state, &caller, &account, &import).await?;
    if running(&mut tx, &scope, i.job_id.as_deref()).await? {
        return Err(ApiError::Conflict(
            "the import is being committed; wait for its job to finish".into(),
        ));
    }
    store::delete(&mut tx, &scope, &i.id).await?;
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(
            target.id,
            caller.actor(),
            Action::Delete,
            "User Import",
            &i.id,
        )
        .detail("file_name", i.file_name.clone())
        .tag("import"),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create the valid rows as users, in a job (`202` with the job; follow it at `GET /api/v1/jobs/{id}`).
/// Invalid rows stay staged. Committing again takes only what is still staged and valid.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/imports/{import}/commit", tag = "imports",
    params(("account" = String, Path, description = "Account UUID or number"), ("import" = String, Path)),
    responses((status = 202, body = crate::api::jobs::JobOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn commit_import(
    State(state): State<AppState>,
    caller: Caller,
    Path((account, import)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = state.store.begin().await?;
    let (target, scope, i) = open_locked(&mut tx, &state, &caller, &account, &import).await?;
    importing(&caller, &target)?;
    if running(&mut tx, &scope, i.job_id.as_deref()).await? {
        return Err(ApiError::Conflict(
            "the import is already being committed".into(),
        ));
    }
    let (total, invalid) = store::counts(&mut tx, &scope, &i.id).await?;
    if total == invalid {
        return Err(ApiError::Unprocessable {
            field: None,
            detail: "no row is ready: fix or delete the rows with errors first".into(),
        });
    }
    let job = super::jobs::create(
        &mut tx,
        &state,
        &caller,
        &target,
        &scope,
        super::jobs::NewJob {
            kind: JobKind::ImportCommit,
            params: serde_json::json!({ "import_id": i.id }).to_string(),
            items: &[],
            total: total - invalid,
            now: state.now(),
        },
    )
    .await?;
    store::set_job(
        &mut tx,
        &scope,
        &i.id,
        &job.id,
        state.now() + rules::STAGE_TTL_MICROS,
    )
    .await?;
    tx.commit().await?;
    state.jobs.wake();
    let location = format!("/api/v1/jobs/{}", job.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(super::jobs::out(job, state.now())),
    )
        .into_response())
}
