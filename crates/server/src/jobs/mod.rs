//! Background jobs: slow work (bulk user actions; import commits) runs outside the request that asked for it,
//! on a worker every node runs. Jobs live in the store (`skybridge_store::jobs`), so any node may run any job,
//! and a job whose node died is taken over when its lease runs out.
//!
//! A job runs in chunks. Each chunk is one transaction holding the chunk's work (with its audit events), the
//! job's new progress and position, and — for the last chunk — the job's end and its creator's notification.
//! A crash rolls the chunk in flight back, and the next claim continues from the last committed position: no
//! item is done twice. Before every chunk the worker re-resolves the job's creator (the job acts as that user)
//! and re-checks its right through the one policy; a creator who lost it fails the job with the reason.
//!
//! Adding a kind: a [`JobKind`] variant in the domain (with the right it needs in `authorize_job`), an arm in
//! [`run_chunk`] calling the kind's handler (`async fn(&Chunk, &mut Tx, &mut Tally) -> Result<bool, JobError>`,
//! doing at most `cx.limit` items from `tally.progress.position` on and saying whether more remain), and an
//! entry in [`KINDS`]. Jobs are created with [`crate::api::jobs::create`] in the transaction of the request,
//! which then calls [`JobSignal::wake`] after committing.

pub mod import;
pub mod users;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use skybridge_domain::job::{JobKind, JobState, authorize_job, summary};
use skybridge_domain::policy::{AccountRef, AccountScope};
use skybridge_domain::{AccountId, Denied, UserId};
use skybridge_store::jobs::{self, JobRow, Progress};
use skybridge_store::notifications::{self, NotificationRow};
use skybridge_store::{Tx, users as user_store};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio_util::sync::CancellationToken;

use crate::api::{ensure_active, find_account};
use crate::auth::{Caller, caller_for_job};
use crate::error::ApiError;
use crate::state::AppState;

/// Items per chunk (and so per transaction): big enough that a job's bookkeeping is a small part of its work,
/// small enough that a chunk holds SQLite's write lock for tens of milliseconds, not seconds.
pub const CHUNK: usize = 100;
/// An import's rows are cheap next to a user's mail or deletion (a few multi-row statements a chunk), so a
/// chunk of them holds the write lock about as long as [`CHUNK`] users do.
pub const IMPORT_CHUNK: usize = 500;
/// How long a claim lasts without a chunk renewing it; after that another node may take the job over.
pub const LEASE_MICROS: i64 = 60_000_000;
/// How long a running job may go without its node renewing the claim before it is reported as recovering:
/// half the lease. A chunk renews it when it starts and takes well under a second, so a claim this old means
/// its node stopped; the job is then resumed from its last chunk when the lease runs out (at once, on SQLite,
/// when the node restarts).
pub const STALL_MICROS: i64 = LEASE_MICROS / 2;
/// How often a node looks for jobs queued elsewhere (jobs queued on this node wake it at once).
const POLL: Duration = Duration::from_secs(1);
/// Claims after which a job that keeps failing on server errors is given up.
const MAX_ATTEMPTS: i64 = 5;
/// How long a job that hit a server error waits before it is tried again.
const RETRY_MICROS: i64 = 30_000_000;
/// How many skipped items a job lists by name (in its result and notification); the rest are counted.
pub const MAX_LISTED: usize = 200;
/// The kinds this node can run; it claims no others (a newer node's kinds stay for a newer node).
pub const KINDS: [JobKind; 4] = JobKind::ALL;

/// Wakes this node's worker when a job is queued here, and long-polls waiting on a job when one changes.
#[derive(Default)]
pub struct JobSignal {
    work: Notify,
    changed: Notify,
}

impl JobSignal {
    /// A job was queued on this node: start it now rather than at the next poll.
    pub fn wake(&self) {
        self.work.notify_one();
    }

    /// A job's progress or state changed on this node.
    pub fn changed(&self) {
        self.changed.notify_waiters();
    }

    /// Resolves at the next [`changed`](Self::changed); `enable` it before reading, so none is missed.
    pub fn notified(&self) -> Notified<'_> {
        self.changed.notified()
    }
}

/// Why a chunk did not go through.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job cannot go on (its creator lost the right, its account is gone): it fails with this reason.
    #[error("{0}")]
    Stop(String),
    /// The server failed: the chunk is rolled back and the job tried again later.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<skybridge_store::StoreError> for JobError {
    fn from(e: skybridge_store::StoreError) -> Self {
        JobError::Internal(e.into())
    }
}

/// What a kind's handler gets for one chunk.
pub struct Chunk<'a> {
    pub state: &'a AppState,
    pub job: &'a JobRow,
    pub kind: JobKind,
    /// The job's creator as it is now.
    pub caller: &'a Caller,
    pub target: &'a AccountRef,
    /// Minted by the policy for the creator, this chunk.
    pub scope: &'a AccountScope,
    /// The most items to do in this chunk.
    pub limit: usize,
}

/// What a job records about its items in `result`: why items were skipped.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outcome {
    /// One line per skipped item, "what: why", the first [`MAX_LISTED`].
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Items skipped beyond those listed.
    #[serde(default)]
    pub unlisted: i64,
}

impl Outcome {
    pub fn of(job: &JobRow) -> Outcome {
        job.result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default()
    }

    /// The notification's detail: the skipped items, one a line.
    fn lines(&self) -> Vec<String> {
        let mut lines = self.skipped.clone();
        if self.unlisted > 0 {
            lines.push(format!("… and {} more", self.unlisted));
        }
        lines
    }
}

/// A chunk's count of what it did, starting from the job's progress.
pub struct Tally {
    pub progress: Progress,
    outcome: Outcome,
}

impl Tally {
    fn of(job: &JobRow) -> Tally {
        Tally {
            progress: Progress::of(job),
            outcome: Outcome::of(job),
        }
    }

    pub fn done(&mut self) {
        self.progress.done += 1;
    }

    /// An item the job does not apply to (a protected user, one deleted meanwhile), with why: reported, not
    /// an error of the job.
    pub fn skip(&mut self, why: String) {
        self.progress.failed += 1;
        if self.outcome.skipped.len() < MAX_LISTED {
            self.outcome.skipped.push(why);
        } else {
            self.outcome.unlisted += 1;
        }
    }

    fn finish(mut self) -> Result<Progress, anyhow::Error> {
        self.progress.result = Some(serde_json::to_string(&self.outcome)?);
        Ok(self.progress)
    }
}

/// How a step of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A chunk is done and more remain.
    More,
    /// The job ended (succeeded, or failed for a reason of its own).
    Finished,
    /// This claim no longer holds: the job was cancelled, or another node took it over.
    Lost,
}

/// Runs every job of this node's kinds that is due, until `shutdown`.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        match next(&state, &shutdown).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "job round failed"),
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = state.jobs.work.notified() => {},
            () = tokio::time::sleep(POLL) => {},
        }
    }
}

/// Claims one due job and runs it to its end (or until shutdown). Whether there was one.
async fn next(state: &AppState, shutdown: &CancellationToken) -> anyhow::Result<bool> {
    if shutdown.is_cancelled() {
        return Ok(false);
    }
    let now = state.now();
    let kinds: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
    let Some(mut job) = jobs::claim(&state.store, now, now + LEASE_MICROS, &kinds).await? else {
        return Ok(false);
    };
    tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job claimed");
    state.jobs.changed();
    let scope = AccountScope::for_system(job.account_id.parse()?);
    loop {
        if shutdown.is_cancelled() {
            // Given back at once: another node, or this one restarted, continues from its position.
            jobs::release(
                &state.store,
                &scope,
                &job.id,
                job.attempts,
                state.now(),
                None,
            )
            .await?;
            return Ok(true);
        }
        let limit = match job.kind.parse::<JobKind>() {
            Ok(JobKind::ImportCommit) => IMPORT_CHUNK,
            _ => CHUNK,
        };
        let result = step(state, &mut job, limit).await;
        state.jobs.changed();
        match result {
            Ok(Step::More) => {}
            Ok(Step::Finished | Step::Lost) => return Ok(true),
            Err(e) => {
                tracing::warn!(job = %job.id, attempt = job.attempts, error = %e, "job chunk failed");
                if job.attempts >= MAX_ATTEMPTS {
                    let why =
                        "the server failed repeatedly; the remaining items were not processed";
                    fail(state, &job, why).await?;
                } else {
                    let retry = state.now() + RETRY_MICROS;
                    jobs::release(&state.store, &scope, &job.id, job.attempts, retry, None).await?;
                }
                state.jobs.changed();
                return Ok(true);
            }
        }
    }
}

/// Runs the next chunk of a job this node claimed (`job.attempts` is the claim), of at most `limit` items, and
/// brings `job` up to date with what was committed. Public for the tests of crash recovery, which play the part
/// of a node that dies after a chunk.
pub async fn step(state: &AppState, job: &mut JobRow, limit: usize) -> anyhow::Result<Step> {
    let kind: JobKind = job
        .kind
        .parse()
        .map_err(|()| anyhow::anyhow!("unknown job kind {:?}", job.kind))?;
    let job_scope = AccountScope::for_system(job.account_id.parse()?);
    let mut tx = state.store.begin().await?;
    if !jobs::hold(
        &mut tx,
        &job_scope,
        &job.id,
        job.attempts,
        state.now() + LEASE_MICROS,
    )
    .await?
    {
        return Ok(Step::Lost);
    }
    let ran = async {
        let (caller, target, scope) = acting(&mut tx, job, kind).await?;
        let cx = Chunk {
            state,
            job,
            kind,
            caller: &caller,
            target: &target,
            scope: &scope,
            limit,
        };
        let mut tally = Tally::of(job);
        let more = run_chunk(&cx, &mut tx, &mut tally).await?;
        Ok::<_, JobError>((more, tally.finish()?))
    }
    .await;
    let (more, progress) = match ran {
        Ok(r) => r,
        Err(JobError::Stop(why)) => {
            // The chunk's work (if any) is rolled back; the job ends with the reason.
            drop(tx);
            fail(state, job, &why).await?;
            return Ok(Step::Finished);
        }
        Err(JobError::Internal(e)) => return Err(e),
    };
    if !jobs::progress(&mut tx, &job_scope, &job.id, job.attempts, &progress).await? {
        return Ok(Step::Lost);
    }
    apply(job, &progress);
    if !more {
        end(&mut tx, state, job, kind, JobState::Succeeded, None).await?;
    }
    tx.commit().await?;
    // The chunk may have queued mail.
    state.mail.wake();
    if more {
        Ok(Step::More)
    } else {
        job.state = JobState::Succeeded.as_str().into();
        Ok(Step::Finished)
    }
}

fn apply(job: &mut JobRow, p: &Progress) {
    job.total = p.total;
    job.done = p.done;
    job.failed = p.failed;
    job.position = p.position.clone();
    job.result = p.result.clone();
}

/// The kind's handler.
async fn run_chunk(cx: &Chunk<'_>, tx: &mut Tx, tally: &mut Tally) -> Result<bool, JobError> {
    match cx.kind {
        JobKind::UsersWelcome | JobKind::UsersReset | JobKind::UsersDelete => {
            users::chunk(cx, tx, tally).await
        }
        JobKind::ImportCommit => import::chunk(cx, tx, tally).await,
    }
}

/// Who the job acts as, now, and whether that user still may: the creator re-resolved (role, account and
/// user still active), the policy asked again, the account still active.
async fn acting(
    tx: &mut Tx,
    job: &JobRow,
    kind: JobKind,
) -> Result<(Caller, AccountRef, AccountScope), JobError> {
    let home: AccountId = job
        .created_by_account
        .parse()
        .map_err(anyhow::Error::from)?;
    let creator: UserId = job.created_by.parse().map_err(anyhow::Error::from)?;
    let caller = match caller_for_job(tx, home, creator, &job.id).await {
        Ok(c) => c,
        Err(ApiError::Unauthorized(why)) => {
            return Err(JobError::Stop(format!(
                "the job's creator can no longer act: {why}"
            )));
        }
        Err(e) => return Err(JobError::Internal(e.into())),
    };
    let target = match find_account(tx, &job.account_id).await {
        Ok(t) => t,
        Err(ApiError::NotFound(_)) => {
            return Err(JobError::Stop("the account no longer exists".into()));
        }
        Err(e) => return Err(JobError::Internal(e.into())),
    };
    let scope = authorize_job(&caller.principal, &target, kind).map_err(|d| match d {
        Denied::NotFound => JobError::Stop("the account is no longer within your reach".into()),
        Denied::Forbidden(why) => {
            JobError::Stop(format!("you are no longer allowed to do this: {why}"))
        }
    })?;
    ensure_active(&target).map_err(|e| JobError::Stop(e.to_string()))?;
    Ok((caller, target, scope))
}

/// Fails a job this node holds, with `why`, and tells its creator.
async fn fail(state: &AppState, job: &JobRow, why: &str) -> anyhow::Result<()> {
    let Ok(kind) = job.kind.parse::<JobKind>() else {
        return Err(anyhow::anyhow!("unknown job kind {:?}", job.kind));
    };
    let scope = AccountScope::for_system(job.account_id.parse()?);
    let mut tx = state.store.begin().await?;
    if !jobs::hold(
        &mut tx,
        &scope,
        &job.id,
        job.attempts,
        state.now() + LEASE_MICROS,
    )
    .await?
    {
        return Ok(());
    }
    tracing::info!(job = %job.id, why, "job failed");
    end(&mut tx, state, job, kind, JobState::Failed, Some(why)).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends a job this node holds as `outcome`, in `tx`, and writes its creator's notification.
async fn end(
    tx: &mut Tx,
    state: &AppState,
    job: &JobRow,
    kind: JobKind,
    outcome: JobState,
    why: Option<&str>,
) -> anyhow::Result<()> {
    let scope = AccountScope::for_system(job.account_id.parse()?);
    let line = summary(kind, outcome, job.total, job.done);
    jobs::finish(
        tx,
        &scope,
        &job.id,
        job.attempts,
        outcome,
        &line,
        why,
        state.now(),
    )
    .await?;
    notify_creator(tx, state, job, outcome, &line, why).await
}

/// The notification a job leaves its creator: the summary as the title, and the items it skipped and why
/// (and why it stopped, if it did) as the detail. Nothing when the creator no longer exists.
pub(crate) async fn notify_creator(
    tx: &mut Tx,
    state: &AppState,
    job: &JobRow,
    outcome: JobState,
    title: &str,
    why: Option<&str>,
) -> anyhow::Result<()> {
    let home = AccountScope::for_system(job.created_by_account.parse()?);
    let creator: UserId = job.created_by.parse()?;
    if user_store::get(tx, &home, creator).await?.is_none() {
        return Ok(());
    }
    let mut lines = Vec::new();
    if let Some(why) = why {
        lines.push(format!("Stopped: {why}"));
    }
    lines.extend(Outcome::of(job).lines());
    let failed = outcome != JobState::Succeeded || job.failed > 0;
    let row = NotificationRow {
        id: uuid::Uuid::now_v7().to_string(),
        account_id: home.account_id().to_string(),
        user_id: creator.to_string(),
        status: if failed { "error" } else { "success" }.into(),
        title: title.to_string(),
        detail: (!lines.is_empty()).then(|| lines.join("\n")),
        created_at: state.now(),
        read_at: None,
    };
    notifications::insert(tx, &home, &row).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> JobRow {
        JobRow {
            id: "j".into(),
            account_id: "a".into(),
            created_by: "u".into(),
            created_by_account: "a".into(),
            kind: "users_delete".into(),
            params: "{}".into(),
            state: "running".into(),
            total: 3,
            done: 0,
            failed: 0,
            position: None,
            result: None,
            summary: None,
            error: None,
            attempts: 1,
            lease_until: 0,
            created_at: 0,
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn skipped_items_are_listed_then_counted() {
        let mut t = Tally::of(&job());
        for i in 0..MAX_LISTED + 2 {
            t.skip(format!("user {i}: protected"));
        }
        t.done();
        let p = t.finish().unwrap();
        assert_eq!((p.done, p.failed), (1, MAX_LISTED as i64 + 2));
        let mut j = job();
        j.result = p.result;
        let o = Outcome::of(&j);
        assert_eq!(o.skipped.len(), MAX_LISTED);
        assert_eq!(o.unlisted, 2);
        assert_eq!(o.lines().last().unwrap(), "… and 2 more");
    }
}
