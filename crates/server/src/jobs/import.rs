//! Committing a staged import: each valid row becomes a user (no welcome mail: spec §9) and leaves the stage
//! in the chunk's transaction, so an interrupted commit that runs again never creates a row's user twice. A
//! row that stopped being valid since it was checked (a user with its e-mail was added meanwhile) gets its
//! problem and stays staged, reported as skipped.

use serde::Deserialize;
use skybridge_domain::UserId;
use skybridge_domain::event::{Action, NewEvent};
use skybridge_domain::import::{self as rules, Surroundings};
use skybridge_domain::user::Source;
use skybridge_domain::validate::email_key;
use skybridge_store::Tx;
use skybridge_store::events as event_store;
use skybridge_store::imports as store;
use skybridge_store::users::{self as user_store, UserRow};

use super::{Chunk, JobError, Tally};
use crate::api::imports::{formulas_of, staged, values_of};

#[derive(Deserialize)]
struct Params {
    import_id: String,
}

pub(super) async fn chunk(
    cx: &Chunk<'_>,
    tx: &mut Tx,
    tally: &mut Tally,
) -> Result<bool, JobError> {
    let params: Params = serde_json::from_str(&cx.job.params).map_err(anyhow::Error::from)?;
    let now = cx.state.now();
    // Locked for the chunk, so an edit made meanwhile waits and then finds its row committed (or not yet
    // taken), rather than being lost under a user made from the row as it was.
    if !store::lock(tx, cx.scope, &params.import_id, now).await? {
        return Err(JobError::Stop(
            "the import was cancelled or has expired".into(),
        ));
    }
    let may_admin = rules::may_assign_admin(&cx.caller.principal, cx.target);
    let rows = store::valid_rows(tx, cx.scope, &params.import_id, cx.limit as i64).await?;
    let keys: Vec<String> = rows.iter().filter_map(|r| r.email_key.clone()).collect();
    let taken = user_store::taken_email_keys(tx, cx.scope, &keys).await?;
    let mut users = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let mut lines = Vec::with_capacity(rows.len());
    for r in &rows {
        let around = Surroundings {
            email_taken: r.email_key.as_ref().is_some_and(|k| taken.contains(k)),
            repeats_line: None,
            formulas: Vec::new(),
            may_assign_admin: may_admin,
        };
        let valid = match rules::validated(&values_of(r), &around) {
            Ok(v) => v,
            Err(issues) => {
                let why = issues
                    .iter()
                    .map(|i| i.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut kept = r.clone();
                kept.valid = false;
                kept.issues = serde_json::to_string(&issues).map_err(anyhow::Error::from)?;
                store::update_row(tx, cx.scope, &params.import_id, &kept).await?;
                tally.skip(format!("row {} ({}): {why}", r.line, r.email));
                continue;
            }
        };
        let id = UserId::new();
        events.push(
            NewEvent::admin(cx.target.id, cx.caller.actor(), Action::Create, "User", id)
                .changed(["first_name", "last_name", "email", "role"])
                .detail("fullname", valid.display_name.clone())
                .detail("email", valid.email.clone())
                .detail("import_id", params.import_id.clone())
                .detail("row", r.line)
                .tag("user")
                .tag("import"),
        );
        users.push(UserRow {
            id: id.to_string(),
            account_id: cx.target.id.to_string(),
            first_name: valid.first_name,
            last_name: valid.last_name,
            display_name: valid.display_name,
            email: valid.email,
            login_id: None,
            mobile: None,
            extension: None,
            role: valid.role.as_str().to_string(),
            registered: false,
            source: Source::Import.as_str().into(),
            active: true,
            restricted_manager: false,
            created_at: now,
            modified_at: now,
            modified_by: cx.caller.display_name.clone(),
        });
        lines.push(r.line);
        tally.done();
    }
    // The chunk's users, their events and the rows' removal in a few statements, in this one transaction.
    user_store::insert_many(tx, cx.scope, &users).await?;
    event_store::insert_many(tx, &events, &cx.caller.display_name, now).await?;
    store::delete_rows(tx, cx.scope, &params.import_id, &lines).await?;
    // The rows that repeated a committed row now collide with its user: they say so, rather than point at a
    // row that has left the stage.
    let committed: Vec<String> = users.iter().map(|u| email_key(&u.email)).collect();
    for r in store::rows_with_keys(tx, cx.scope, &params.import_id, &committed).await? {
        let around = Surroundings {
            email_taken: true,
            repeats_line: None,
            formulas: formulas_of(&r.formulas),
            may_assign_admin: may_admin,
        };
        let fresh = staged(r.line, values_of(&r), r.email_key.clone(), &around);
        if fresh != r {
            store::update_row(tx, cx.scope, &params.import_id, &fresh).await?;
        }
    }
    let created = users.len() as i64;
    store::add_created(tx, cx.scope, &params.import_id, created).await?;
    let more = rows.len() == cx.limit;
    if !more {
        // Rows fixed while the commit ran were taken too; rows broken meanwhile were skipped.
        tally.progress.total = tally.progress.done + tally.progress.failed;
    }
    Ok(more)
}
