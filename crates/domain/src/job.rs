//! Durable background jobs: the kinds of work that run outside a request, the states a job moves through,
//! who may start one, and the parameters of the bulk user actions. The store keeps jobs; the server's worker
//! runs them, acting as the user who created them.
//!
//! Adding a kind: a variant here (with its [`JobKind::as_str`], [`JobKind::title`] and the right it needs in
//! [`authorize_job`]), then a handler in the server's `jobs` module.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::permissions::{Feature, Verb};
use crate::policy::{AccountRef, AccountScope, Principal, authorize};
use crate::{Denied, UserId, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Welcome mail to the selected (or all unregistered) users.
    UsersWelcome,
    /// Password-reset mail to the selected (or all) users.
    UsersReset,
    /// Delete the selected (or all) users.
    UsersDelete,
    /// Create the valid rows of a staged import as users.
    ImportCommit,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::UsersWelcome,
        JobKind::UsersReset,
        JobKind::UsersDelete,
        JobKind::ImportCommit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::UsersWelcome => "users_welcome",
            JobKind::UsersReset => "users_reset",
            JobKind::UsersDelete => "users_delete",
            JobKind::ImportCommit => "import_commit",
        }
    }

    /// What the job does, as its notification and the console's progress panel head it.
    pub fn title(self) -> &'static str {
        match self {
            JobKind::UsersWelcome => "Send welcome emails",
            JobKind::UsersReset => "Reset passwords",
            JobKind::UsersDelete => "Delete users",
            JobKind::ImportCommit => "Import users",
        }
    }

    /// What the job's counts count, in the plural.
    pub fn unit(self) -> &'static str {
        match self {
            JobKind::UsersWelcome | JobKind::UsersReset | JobKind::UsersDelete => "users",
            JobKind::ImportCommit => "rows",
        }
    }

    /// The feature whose VIEW right lets someone other than the creator look at a job of this kind.
    pub fn feature(self) -> Feature {
        match self {
            JobKind::UsersWelcome
            | JobKind::UsersReset
            | JobKind::UsersDelete
            | JobKind::ImportCommit => Feature::Users,
        }
    }

    /// The bulk user action of the API's `action` field.
    pub fn from_bulk_action(action: &str) -> Result<JobKind, ValidationError> {
        match action {
            "welcome" => Ok(JobKind::UsersWelcome),
            "reset" => Ok(JobKind::UsersReset),
            "delete" => Ok(JobKind::UsersDelete),
            other => Err(ValidationError::new(
                "action",
                format!("unknown action {other:?}; use welcome, reset or delete"),
            )),
        }
    }

    /// Which users "all users of the account" means for this kind; `None` for kinds that do not act on a
    /// selection of users.
    pub fn all_users(self) -> Option<AllUsers> {
        Some(match self {
            // As the single-user welcome: only users who have not registered yet; and, as the Users list,
            // only active ones.
            JobKind::UsersWelcome => AllUsers {
                include_inactive: false,
                only_unregistered: true,
            },
            // An inactive user cannot sign in, so a reset link is no use to it.
            JobKind::UsersReset => AllUsers {
                include_inactive: false,
                only_unregistered: false,
            },
            // Spec: deletion works for active and inactive users.
            JobKind::UsersDelete => AllUsers {
                include_inactive: true,
                only_unregistered: false,
            },
            JobKind::ImportCommit => return None,
        })
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// Which users of an account "all" selects for a job kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllUsers {
    pub include_inactive: bool,
    pub only_unregistered: bool,
}

/// Whether `principal` may create, cancel or (re-checked before every chunk) run a job of `kind` on `target`:
/// exactly the rights of the single-user action it repeats.
pub fn authorize_job(
    principal: &Principal,
    target: &AccountRef,
    kind: JobKind,
) -> Result<AccountScope, Denied> {
    match kind {
        // Welcome mail needs Users ADD or EDIT (the cross-row rule of the Users row), as for one user.
        JobKind::UsersWelcome => {
            let scope = authorize(principal, target, Feature::Users, Verb::View)?;
            if !(principal.holds(Feature::Users, Verb::Add)
                || principal.holds(Feature::Users, Verb::Edit))
            {
                return Err(Denied::forbidden(
                    "sending welcome mail needs users.add or users.edit",
                ));
            }
            Ok(scope)
        }
        JobKind::UsersReset => authorize(principal, target, Feature::Users, Verb::Edit),
        JobKind::UsersDelete => authorize(principal, target, Feature::Users, Verb::Delete),
        JobKind::ImportCommit => authorize(principal, target, Feature::Users, Verb::Add),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (new, or given back by a node that stopped).
    Queued,
    /// A worker holds it under a lease; if the lease runs out (the node died) another worker takes it over.
    Running,
    Succeeded,
    /// Stopped for a reason that concerns the whole job (the creator lost the right, the server kept failing).
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        JobState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// The most users one bulk action may name.
pub const MAX_SELECTED_USERS: usize = 50_000;

/// Which users a bulk user action applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSelection {
    /// These users, in this order, each once.
    Ids(Vec<UserId>),
    /// Every user of the account (see [`JobKind::all_users`]) that exists when the job is created.
    All,
}

impl UserSelection {
    /// The selection of a request: `user_ids` (1 to [`MAX_SELECTED_USERS`], duplicates dropped) or `all: true`.
    pub fn from_request(
        user_ids: Option<&[String]>,
        all: Option<bool>,
    ) -> Result<UserSelection, ValidationError> {
        match (user_ids, all) {
            (None, Some(true)) => Ok(UserSelection::All),
            (Some(ids), None | Some(false)) => {
                if ids.is_empty() {
                    return Err(ValidationError::new("user_ids", "select at least one user"));
                }
                if ids.len() > MAX_SELECTED_USERS {
                    return Err(ValidationError::new(
                        "user_ids",
                        format!(
                            "at most {MAX_SELECTED_USERS} users at once; use \"all\": true for every user"
                        ),
                    ));
                }
                let mut seen = std::collections::HashSet::with_capacity(ids.len());
                let mut out = Vec::with_capacity(ids.len());
                for (i, raw) in ids.iter().enumerate() {
                    let id: UserId = raw.trim().parse().map_err(|_| {
                        ValidationError::new(format!("user_ids[{i}]"), "not a user id")
                    })?;
                    if seen.insert(id) {
                        out.push(id);
                    }
                }
                Ok(UserSelection::Ids(out))
            }
            (Some(_), Some(true)) => Err(ValidationError::new(
                "all",
                "give either user_ids or \"all\": true, not both",
            )),
            (None, _) => Err(ValidationError::new(
                "user_ids",
                "give either user_ids or \"all\": true",
            )),
        }
    }
}

/// The stored parameters of a bulk user action. The selected ids themselves are the job's items (one row
/// each), so that a large selection is not rewritten with every progress update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersParams {
    /// Every user of the account that existed when the job was created, rather than the job's items.
    pub all: bool,
}

/// The one-line outcome of a job, as its notification's title: "Delete users: 98 of 100 users".
pub fn summary(kind: JobKind, state: JobState, total: i64, done: i64) -> String {
    let base = format!("{}: {done} of {total} {}", kind.title(), kind.unit());
    match state {
        JobState::Cancelled => format!("{base} (cancelled)"),
        JobState::Failed => format!("{base} (stopped)"),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountId;
    use crate::account::{AccountKind, AccountStatus};
    use crate::permissions::{Base, PermissionSet};
    use crate::policy::ManagerScope;

    #[test]
    fn names_round_trip() {
        for k in JobKind::ALL {
            assert_eq!(k.as_str().parse::<JobKind>(), Ok(k));
        }
        for s in JobState::ALL {
            assert_eq!(s.as_str().parse::<JobState>(), Ok(s));
        }
        assert!("users_nothing".parse::<JobKind>().is_err());
        assert!(JobState::Cancelled.is_finished() && !JobState::Running.is_finished());
    }

    #[test]
    fn bulk_actions() {
        assert_eq!(
            JobKind::from_bulk_action("delete"),
            Ok(JobKind::UsersDelete)
        );
        assert_eq!(
            JobKind::from_bulk_action("promote").map_err(|e| e.field),
            Err("action".to_string())
        );
    }

    #[test]
    fn selections() {
        let a = UserId::new().to_string();
        let b = UserId::new().to_string();
        let sel = UserSelection::from_request(Some(&[a.clone(), b.clone(), a.clone()]), None);
        assert!(matches!(sel, Ok(UserSelection::Ids(ref v)) if v.len() == 2));
        assert_eq!(
            UserSelection::from_request(None, Some(true)),
            Ok(UserSelection::All)
        );
        let field = |r: Result<UserSelection, ValidationError>| r.map_err(|e| e.field);
        assert_eq!(
            field(UserSelection::from_request(Some(&[]), None)),
            Err("user_ids".into())
        );
        assert_eq!(
            field(UserSelection::from_request(None, None)),
            Err("user_ids".into())
        );
        assert_eq!(
            field(UserSelection::from_request(
                Some(std::slice::from_ref(&a)),
                Some(true)
            )),
            Err("all".into())
        );
        assert_eq!(
            field(UserSelection::from_request(
                Some(&[a.clone(), "x".into()]),
                None
            )),
            Err("user_ids[1]".into())
        );
        let many = vec![a; MAX_SELECTED_USERS + 1];
        assert_eq!(
            field(UserSelection::from_request(Some(&many), None)),
            Err("user_ids".into())
        );
    }

    fn admin(permissions: &[&str]) -> (Principal, AccountRef) {
        let home = AccountRef {
            id: AccountId::new(),
            kind: AccountKind::Customer,
            partner_id: Some(AccountId::new()),
            status: AccountStatus::Active,
        };
        let names: Vec<String> = permissions.iter().map(|s| s.to_string()).collect();
        let principal = Principal {
            user_id: UserId::new(),
            name: "a".into(),
            home: home.clone(),
            base: Base::AccountAdmin,
            permissions: PermissionSet::from_names("p", &names).unwrap_or(PermissionSet::EMPTY),
            custom_role: None,
            manager: ManagerScope::Unrestricted,
        };
        (principal, home)
    }

    #[test]
    fn jobs_need_the_rights_of_the_single_action() {
        let (p, home) = admin(&["users.view", "users.add"]);
        assert!(authorize_job(&p, &home, JobKind::UsersWelcome).is_ok());
        assert!(authorize_job(&p, &home, JobKind::UsersReset).is_err());
        assert!(authorize_job(&p, &home, JobKind::UsersDelete).is_err());
        let (p, home) = admin(&["users.view", "users.delete"]);
        assert!(authorize_job(&p, &home, JobKind::UsersWelcome).is_err());
        assert!(authorize_job(&p, &home, JobKind::UsersDelete).is_ok());
        let (p, home) = admin(&["users.view", "users.edit"]);
        assert!(authorize_job(&p, &home, JobKind::UsersReset).is_ok());
    }

    #[test]
    fn summaries() {
        assert_eq!(
            summary(JobKind::UsersDelete, JobState::Succeeded, 100, 98),
            "Delete users: 98 of 100 users"
        );
        assert!(summary(JobKind::UsersReset, JobState::Cancelled, 3, 1).ends_with("(cancelled)"));
    }
}
