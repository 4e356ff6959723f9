//! The bulk user actions: welcome mails, password resets and deletion for selected users or for all users of
//! an account. Each user goes through the same code as the single-user API call, as the job's creator; a user
//! the action cannot apply to (a partner, a user MiCloud Connect owns, the creator itself, one deleted
//! meanwhile, an already registered user for a welcome mail) is skipped with the reason.

use std::collections::HashMap;

use skybridge_domain::job::{JobKind, UsersParams};
use skybridge_store::Tx;
use skybridge_store::jobs;
use skybridge_store::users::UserRow;

use super::{Chunk, JobError, Tally};
use crate::api::{user_mail, users as user_api};
use crate::error::ApiError;

/// The next chunk of users: from the job's items (the selected ids, by number) or, for "all users", from the
/// account's users in id order after the last one done. Whether more remain.
pub(super) async fn chunk(
    cx: &Chunk<'_>,
    tx: &mut Tx,
    tally: &mut Tally,
) -> Result<bool, JobError> {
    let params: UsersParams = serde_json::from_str(&cx.job.params).map_err(anyhow::Error::from)?;
    let limit = cx.limit as i64;
    if params.all {
        let all = cx.kind.all_users().ok_or_else(|| {
            JobError::Stop(format!("{} does not act on all users", cx.kind.title()))
        })?;
        let after = tally.progress.position.clone();
        let page = jobs::users_page(
            tx,
            cx.scope,
            all,
            cx.job.created_at,
            after.as_deref(),
            limit,
        )
        .await?;
        for row in &page {
            apply(cx, tx, tally, &row.id, Some(row)).await?;
        }
        if let Some(last) = page.last() {
            tally.progress.position = Some(last.id.clone());
        }
        let more = page.len() as i64 == limit;
        if !more {
            // Users deleted (or, for welcome mail, registered) since the job was counted were not walked: the
            // total is the users there were to do.
            tally.progress.total = tally.progress.done + tally.progress.failed;
        }
        Ok(more)
    } else {
        let after: i64 = match tally.progress.position.as_deref() {
            None => 0,
            Some(p) => p
                .parse()
                .map_err(|_| anyhow::anyhow!("job {}: bad position {p:?}", cx.job.id))?,
        };
        let items = jobs::items(tx, cx.scope, &cx.job.id, after, limit).await?;
        let ids: Vec<String> = items.iter().map(|(_, id)| id.clone()).collect();
        let rows: HashMap<String, UserRow> = jobs::users_by_id(tx, cx.scope, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        for (_, id) in &items {
            apply(cx, tx, tally, id, rows.get(id)).await?;
        }
        if let Some((seq, _)) = items.last() {
            tally.progress.position = Some(seq.to_string());
        }
        Ok(items.len() as i64 == limit)
    }
}

/// One user: the single-user action's code, as the creator. A refusal is a skip; a server failure rolls the
/// chunk back.
async fn apply(
    cx: &Chunk<'_>,
    tx: &mut Tx,
    tally: &mut Tally,
    id: &str,
    row: Option<&UserRow>,
) -> Result<(), JobError> {
    let Some(row) = row else {
        tally.skip(format!("user {id}: user not found"));
        return Ok(());
    };
    let (state, caller, scope) = (cx.state, cx.caller, cx.scope);
    let result = match cx.kind {
        JobKind::UsersWelcome => user_mail::welcome_in(tx, state, caller, scope, row)
            .await
            .map(|_| ()),
        JobKind::UsersReset => user_mail::reset_in(tx, state, caller, scope, row)
            .await
            .map(|_| ()),
        JobKind::UsersDelete => user_api::delete_in(tx, state, caller, cx.target, scope, row).await,
        JobKind::ImportCommit => {
            return Err(JobError::Stop(
                "an import commit does not act on selected users".into(),
            ));
        }
    };
    match result {
        Ok(()) => tally.done(),
        Err(ApiError::Internal(e)) => return Err(JobError::Internal(e)),
        // Not the user's fault: the chunk is rolled back and tried again once the database is back.
        Err(e @ ApiError::Unavailable) => return Err(JobError::Internal(e.into())),
        Err(e) => tally.skip(format!("{} ({}): {e}", row.display_name, row.email)),
    }
    Ok(())
}
