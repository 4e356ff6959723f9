//! Accounts: the Partner Account of the operator and the customer accounts under it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Partner,
    Customer,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Partner => "partner",
            AccountKind::Customer => "customer",
        }
    }
}

impl FromStr for AccountKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "partner" => Ok(AccountKind::Partner),
            "customer" => Ok(AccountKind::Customer),
            _ => Err(()),
        }
    }
}

/// Active ⇄ Deactivated, and Active → Deleted. Deleted accounts are kept as tombstones so that event history
/// and account numbers stay unambiguous, but nothing can reach them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Deactivated,
    Deleted,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Deactivated => "deactivated",
            AccountStatus::Deleted => "deleted",
        }
    }
}

impl FromStr for AccountStatus {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "active" => Ok(AccountStatus::Active),
            "deactivated" => Ok(AccountStatus::Deactivated),
            "deleted" => Ok(AccountStatus::Deleted),
            _ => Err(()),
        }
    }
}

/// A lifecycle action on an account, each guarded by the word the console asks the operator to type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Deactivate,
    Reactivate,
    Delete,
}

/// Why a lifecycle action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("type {0:?} to confirm")]
    Confirmation(&'static str),
    #[error("the Partner Account cannot be deactivated or deleted")]
    PartnerAccount,
    #[error("the account is {0}; it must be {1} first")]
    WrongState(&'static str, &'static str),
}

impl Lifecycle {
    pub fn confirmation_word(self) -> &'static str {
        match self {
            Lifecycle::Deactivate => "deactivate",
            Lifecycle::Reactivate => "reactivate",
            Lifecycle::Delete => "delete",
        }
    }

    /// The state after the action, or why it may not happen.
    pub fn apply(
        self,
        kind: AccountKind,
        from: AccountStatus,
        confirmation: &str,
    ) -> Result<AccountStatus, LifecycleError> {
        if confirmation.trim() != self.confirmation_word() {
            return Err(LifecycleError::Confirmation(self.confirmation_word()));
        }
        if kind == AccountKind::Partner {
            return Err(LifecycleError::PartnerAccount);
        }
        match (self, from) {
            (Lifecycle::Deactivate, AccountStatus::Active) => Ok(AccountStatus::Deactivated),
            (Lifecycle::Reactivate, AccountStatus::Deactivated) => Ok(AccountStatus::Active),
            (Lifecycle::Delete, AccountStatus::Active) => Ok(AccountStatus::Deleted),
            (Lifecycle::Delete, AccountStatus::Deactivated) => {
                Err(LifecycleError::WrongState("deactivated", "reactivated"))
            }
            (Lifecycle::Deactivate, s) => Err(LifecycleError::WrongState(s.as_str(), "active")),
            (Lifecycle::Reactivate, s) => {
                Err(LifecycleError::WrongState(s.as_str(), "deactivated"))
            }
            (Lifecycle::Delete, s) => Err(LifecycleError::WrongState(s.as_str(), "active")),
        }
    }
}

/// The 9-digit account number shown to people (the UUID stays internal).
pub fn account_number(field: &str, raw: &str) -> Result<i64, ValidationError> {
    let s = raw.trim();
    if s.len() != 9 || !s.chars().all(|c| c.is_ascii_digit()) || s.starts_with('0') {
        return Err(ValidationError::new(
            field,
            "must be a 9-digit account number",
        ));
    }
    s.parse()
        .map_err(|_| ValidationError::new(field, "must be a 9-digit account number"))
}

/// Account numbers are drawn from this range so they always have nine digits.
pub const ACCOUNT_NUMBER_RANGE: std::ops::RangeInclusive<i64> = 100_000_000..=999_999_999;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_transitions() {
        use AccountStatus::*;
        use Lifecycle::*;
        let c = AccountKind::Customer;
        assert_eq!(Deactivate.apply(c, Active, "deactivate"), Ok(Deactivated));
        assert_eq!(Reactivate.apply(c, Deactivated, " reactivate "), Ok(Active));
        assert_eq!(Delete.apply(c, Active, "delete"), Ok(Deleted));
        assert_eq!(
            Delete.apply(c, Active, "Delete"),
            Err(LifecycleError::Confirmation("delete"))
        );
        assert_eq!(
            Deactivate.apply(c, Active, ""),
            Err(LifecycleError::Confirmation("deactivate"))
        );
        assert!(matches!(
            Delete.apply(c, Deactivated, "delete"),
            Err(LifecycleError::WrongState(..))
        ));
        assert!(matches!(
            Reactivate.apply(c, Active, "reactivate"),
            Err(LifecycleError::WrongState(..))
        ));
        assert!(matches!(
            Deactivate.apply(c, Deleted, "deactivate"),
            Err(LifecycleError::WrongState(..))
        ));
        for action in [Deactivate, Reactivate, Delete] {
            assert_eq!(
                action.apply(AccountKind::Partner, Active, action.confirmation_word()),
                Err(LifecycleError::PartnerAccount)
            );
        }
    }

    #[test]
    fn account_numbers() {
        assert_eq!(account_number("n", "735356629").unwrap(), 735_356_629);
        for bad in ["", "12345678", "0123456789", "012345678", "73535662x"] {
            assert!(account_number("n", bad).is_err(), "{bad}");
        }
    }
}
