//! Background jobs over the API: read one (and wait for it to finish), list an account's, cancel one. Jobs are
//! started by the routes of the work they do (e.g. `POST /accounts/{a}/users/bulk`), through [`create`].

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use skybridge_domain::JobId;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::job::{JobKind, JobState, authorize_job, summary};
use skybridge_domain::permissions::{Feature, Verb};
use skybridge_domain::policy::{AccountRef, AccountScope, authorize, reach};
use skybridge_store::jobs::{self as store, JobFilter, JobRow};
use skybridge_store::{Exec, Tx};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::json::Params;
use super::page::{self, Page};
use super::{audit, authorized, find_account};
use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::jobs::Outcome;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_job))
        .routes(routes!(cancel_job))
        .routes(routes!(list_jobs))
}

/// The longest `GET /jobs/{id}?wait=` holds a request.
pub const MAX_WAIT_SECS: u64 = 30;
/// How often a waiting request re-reads the job, for progress made on other nodes (this node's wake it at once).
const RECHECK: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobOut {
    pub id: String,
    pub account_id: String,
    /// `users_welcome`, `users_reset`, `users_delete` or `import_commit`.
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// Items to do (users, for the bulk user actions).
    pub total: i64,
    /// Items done.
    pub done: i64,
    /// Items skipped: the action does not apply to them (see `skipped`).
    pub failed: i64,
    /// Why items were skipped, one line each ("Ann Lee (ann@example.com): partner users cannot be deleted"),
    /// the first 200.
    pub skipped: Vec<String>,
    /// How many more items were skipped than `skipped` lists.
    pub skipped_unlisted: i64,
    /// The outcome in one line, once finished ("Delete users: 98 of 100 users").
    pub summary: Option<String>,
    /// Why the job failed as a whole.
    pub error: Option<String>,
    /// The user the job acts as.
    pub created_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Running, but the node running it has not been heard of for 30 s: it stopped (a crash, a restart), and
    /// the job is being resumed where its last committed chunk left it, by `resumes_by` at the latest.
    pub recovering: bool,
    /// When another node takes a recovering job over (its lease runs out); `null` unless recovering.
    pub resumes_by: Option<String>,
}

/// The wire form of a job as of `now`.
pub fn out(row: JobRow, now: i64) -> JobOut {
    let outcome = Outcome::of(&row);
    // Claims and chunks set the lease to a full LEASE_MICROS ahead: what is left of it says when the node
    // running the job last renewed it.
    let recovering = row.state == JobState::Running.as_str()
        && now >= row.lease_until - (crate::jobs::LEASE_MICROS - crate::jobs::STALL_MICROS);
    JobOut {
        recovering,
        resumes_by: recovering.then(|| rfc3339(row.lease_until.max(now))),
        id: row.id,
        account_id: row.account_id,
        kind: row.kind,
        state: row.state,
        total: row.total,
        done: row.done,
        failed: row.failed,
        skipped: outcome.skipped,
        skipped_unlisted: outcome.unlisted,
        summary: row.summary,
        // Only a failed job's reason; a job given back for a retry keeps nothing for the client here.
        error: row.error,
        created_by: row.created_by,
        created_at: rfc3339(row.created_at),
        started_at: row.started_at.map(rfc3339),
        finished_at: row.finished_at.map(rfc3339),
    }
}

impl JobOut {
    pub fn is_finished(&self) -> bool {
        self.state
            .parse::<JobState>()
            .is_ok_and(JobState::is_finished)
    }
}

/// A job to create.
pub(crate) struct NewJob<'a> {
    pub kind: JobKind,
    /// The kind's parameters, JSON.
    pub params: String,
    /// Its input list, walked in order (may be empty).
    pub items: &'a [String],
    /// What its progress counts towards.
    pub total: i64,
    /// Its creation time (the instant "all users" and the like are taken at).
    pub now: i64,
}

/// Creates a job on the caller's behalf in `tx`, with the audit event of its creation. The caller was
/// authorized with [`authorize_job`] (`scope`), commits `tx`, then calls `state.jobs.wake()`.
pub(crate) async fn create(
    tx: &mut Tx,
    state: &AppState,
    caller: &Caller,
    target: &AccountRef,
    scope: &AccountScope,
    job: NewJob<'_>,
) -> ApiResult<JobRow> {
    let NewJob {
        kind,
        params,
        items,
        total,
        now,
    } = job;
    let row = JobRow {
        id: JobId::new().to_string(),
        account_id: target.id.to_string(),
        created_by: caller.principal.user_id.to_string(),
        created_by_account: caller.principal.home.id.to_string(),
        kind: kind.as_str().into(),
        params,
        state: JobState::Queued.as_str().into(),
        total,
        done: 0,
        failed: 0,
        position: None,
        result: None,
        summary: None,
        error: None,
        attempts: 0,
        lease_until: now,
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    store::insert(tx, scope, &row, items).await?;
    audit(
        tx,
        state,
        caller,
        NewEvent::admin(target.id, caller.actor(), Action::Create, "Job", &row.id)
            .detail("kind", kind.as_str())
            .detail("title", kind.title())
            .detail("total", total)
            .tag("job"),
    )
    .await?;
    Ok(row)
}

/// A job the caller may see: one it created (in an account it can still reach), or one of an account where it
/// may view the job's feature. Another tenant's job is not found, exactly like one that does not exist.
async fn visible(
    db: &mut impl Exec,
    caller: &Caller,
    raw: &str,
) -> ApiResult<(AccountRef, AccountScope, JobRow)> {
    let id: JobId = raw.parse().map_err(|_| ApiError::NotFound("job"))?;
    let id = id.to_string();
    let Some((account, created_by)) = store::owner(db, &id).await? else {
        return Err(ApiError::NotFound("job"));
    };
    let target = find_account(db, &account)
        .await
        .map_err(|_| ApiError::NotFound("job"))?;
    reach(&caller.principal, &target).map_err(|_| ApiError::NotFound("job"))?;
    // The creator reaches the account and started the job with a right at least as broad as VIEW of its
    // feature; it keeps seeing its own job even if that right was taken away since.
    let creator = created_by == caller.principal.user_id.to_string();
    let reader = AccountScope::for_system(target.id);
    let row = store::get(db, &reader, &id)
        .await?
        .ok_or(ApiError::NotFound("job"))?;
    let scope = if creator {
        reader
    } else {
        let feature = row
            .kind
            .parse::<JobKind>()
            .map(JobKind::feature)
            .unwrap_or(Feature::Users);
        authorize(&caller.principal, &target, feature, Verb::View).map_err(|d| match d {
            skybridge_domain::Denied::NotFound => ApiError::NotFound("job"),
            other => other.into(),
        })?
    };
    Ok((target, scope, row))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobQuery {
    /// Seconds (0–30) to wait for the job to finish before answering; the answer comes as soon as it has.
    pub wait: Option<u64>,
}

/// Read a job: its state and progress; with `wait`, once it has finished (or the time is up).
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id"), JobQuery),
    responses((status = 200, body = JobOut), (status = 400, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<JobQuery>,
) -> ApiResult<Json<JobOut>> {
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::bad(
            "wait",
            format!("wait at most {MAX_WAIT_SECS} seconds"),
        ));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        // Listening before reading: a change between the read and the wait still wakes it.
        let changed = state.jobs.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        // A connection per read, never held while waiting.
        let row = {
            let mut db = state.store.handle().await?;
            visible(&mut db, &caller, &id).await?.2
        };
        let job = out(row, state.now());
        let now = tokio::time::Instant::now();
        if job.is_finished() || now >= deadline {
            return Ok(Json(job));
        }
        tokio::select! {
            () = &mut changed => {},
            () = tokio::time::sleep(RECHECK.min(deadline - now)) => {},
        }
    }
}

/// Cancel a queued or running job. Work already done stays done; a running job stops before its next chunk.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobOut), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<JobOut>> {
    let mut tx = state.store.begin().await?;
    let (target, scope, row) = visible(&mut tx, &caller, &id).await?;
    let kind: JobKind = row.kind.parse().map_err(|()| {
        ApiError::Conflict("this job is of a kind this server does not know".into())
    })?;
    // Stopping a job needs the right to start one like it; its creator may always stop its own.
    if row.created_by != caller.principal.user_id.to_string() {
        authorize_job(&caller.principal, &target, kind)?;
    }
    let Some(mut row) = store::cancel(&mut tx, &scope, &row.id, state.now()).await? else {
        return Err(ApiError::Conflict("the job has already finished".into()));
    };
    let line = summary(kind, JobState::Cancelled, row.total, row.done);
    store::set_summary(&mut tx, &scope, &row.id, &line).await?;
    row.summary = Some(line.clone());
    audit(
        &mut tx,
        &state,
        &caller,
        NewEvent::admin(target.id, caller.actor(), Action::Edit, "Job", &row.id)
            .changed(["state"])
            .detail("kind", kind.as_str())
            .detail("summary", line.clone())
            .tag("job"),
    )
    .await?;
    let why = (row.created_by != caller.principal.user_id.to_string())
        .then(|| format!("cancelled by {}", caller.display_name));
    crate::jobs::notify_creator(
        &mut tx,
        &state,
        &row,
        JobState::Cancelled,
        &line,
        why.as_deref(),
    )
    .await?;
    tx.commit().await?;
    state.jobs.changed();
    Ok(Json(out(row, state.now())))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListJobsQuery {
    /// Only jobs in these states, comma-separated (e.g. `queued,running`).
    pub state: Option<String>,
    /// Only jobs this user created: a user id, or `me`.
    pub created_by: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List an account's jobs, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/jobs", tag = "jobs",
    params(("account" = String, Path, description = "Account UUID or number"), ListJobsQuery),
    responses((status = 200, body = Page<JobOut>), (status = 400, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    Path(account): Path<String>,
    Params(q): Params<ListJobsQuery>,
) -> ApiResult<Json<Page<JobOut>>> {
    let limit = page::limit(q.limit)?;
    let before: Option<(i64, String)> = page::decode(q.cursor.as_deref())?;
    let mut states = Vec::new();
    for s in q.state.as_deref().unwrap_or("").split(',') {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        states.push(s.parse::<JobState>().map_err(|()| {
            ApiError::bad(
                "state",
                format!("unknown state {s:?}; use queued, running, succeeded, failed or cancelled"),
            )
        })?);
    }
    let created_by = match q.created_by.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("me") => Some(caller.principal.user_id.to_string()),
        Some(id) => Some(
            id.parse::<skybridge_domain::UserId>()
                .map_err(|_| ApiError::bad("created_by", "a user id, or me"))?
                .to_string(),
        ),
    };
    let mut db = state.store.handle().await?;
    // Every kind there is works on users.
    let (_, scope) = authorized(&mut db, &caller, &account, Feature::Users, Verb::View).await?;
    let filter = JobFilter { created_by, states };
    let rows = store::list(&mut db, &scope, &filter, before, limit + 1).await?;
    Ok(Json(page::paginate(
        rows,
        limit,
        |j| (j.created_at, j.id.clone()),
        |j| Ok(out(j, state.now())),
    )?))
}
