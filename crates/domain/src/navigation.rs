//! What the console's navigation offers a principal: a pure function of the principal and the account it is
//! looking at, so the menu and the pages agree with the policy by construction. A link shown here may still be
//! refused by [`crate::policy::authorize`] (that is the authority); a link hidden here is one the policy would
//! refuse.

use crate::account::AccountKind;
use crate::permissions::{Base, Feature, Verb};
use crate::policy::{AccountRef, Principal, reach};

/// The entries of the console's left navigation a principal may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Navigation {
    /// The partner's list of customer accounts.
    pub accounts: bool,
    /// The Account Information page of the account in context.
    pub account: bool,
    pub users: bool,
    pub roles: bool,
    /// The partner's Account Managers page (unrestricted administrators, outside any customer account).
    pub account_managers: bool,
    pub integrations: bool,
    pub event_history: bool,
    /// The header's account switcher (partner staff).
    pub account_switcher: bool,
    /// "Change your password" (everyone signed in with a local password).
    pub change_password: bool,
}

impl Navigation {
    /// Whether the principal has any administration to do at all (a plain User has none).
    pub fn administers(&self) -> bool {
        self.accounts || self.account || self.users || self.roles
    }

    /// Whether any entry of the User Management group is shown.
    pub fn user_management(&self) -> bool {
        self.users || self.roles || self.account_managers
    }
}

/// Whether the principal is staff of a Partner Account (as opposed to an admin of a customer account).
pub fn is_partner_staff(principal: &Principal) -> bool {
    principal.base == Base::Partner && principal.home.kind == AccountKind::Partner
}

/// The navigation for `principal`, looking at `context` (the customer account a partner stepped into, or an
/// admin's own account; `None` for a partner on its own dashboard).
pub fn navigation(principal: &Principal, context: Option<&AccountRef>) -> Navigation {
    if principal.base == Base::User {
        return Navigation {
            change_password: true,
            ..Navigation::default()
        };
    }
    let partner = is_partner_staff(principal);
    let in_account = context.filter(|target| reach(principal, target).is_ok());
    let holds = |feature, verb| principal.holds(feature, verb);
    Navigation {
        accounts: partner && holds(Feature::Accounts, Verb::View),
        account: in_account.is_some() && holds(Feature::Account, Verb::View),
        users: in_account.is_some() && holds(Feature::Users, Verb::View),
        // Partners keep roles partner-wide; an Account Admin sees the roles assigned to its account.
        roles: holds(Feature::Roles, Verb::View) && (partner || in_account.is_some()),
        account_managers: partner && principal.is_unrestricted_partner() && in_account.is_none(),
        integrations: in_account.is_some() && holds(Feature::Integrations, Verb::View),
        event_history: in_account.is_some() && holds(Feature::Support, Verb::View),
        account_switcher: partner,
        change_password: true,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::account::AccountStatus;
    use crate::permissions::PermissionSet;
    use crate::policy::ManagerScope;
    use crate::{AccountId, UserId};

    fn partner_account() -> AccountRef {
        AccountRef {
            id: AccountId::new(),
            kind: AccountKind::Partner,
            partner_id: None,
            status: AccountStatus::Active,
        }
    }

    fn customer(partner: &AccountRef) -> AccountRef {
        AccountRef {
            id: AccountId::new(),
            kind: AccountKind::Customer,
            partner_id: Some(partner.id),
            status: AccountStatus::Active,
        }
    }

    fn principal(home: &AccountRef, base: Base, permissions: PermissionSet) -> Principal {
        Principal {
            user_id: UserId::new(),
            name: "P".into(),
            home: home.clone(),
            base,
            permissions,
            custom_role: None,
            manager: ManagerScope::Unrestricted,
        }
    }

    #[test]
    fn a_partner_outside_any_account_sees_accounts_roles_and_managers() {
        let home = partner_account();
        let p = principal(&home, Base::Partner, PermissionSet::full(Base::Partner));
        let nav = navigation(&p, None);
        assert!(nav.accounts && nav.roles && nav.account_managers && nav.account_switcher);
        assert!(!nav.users && !nav.integrations && !nav.event_history && !nav.account);
    }

    #[test]
    fn a_partner_inside_a_customer_account_sees_its_pages_but_not_account_managers() {
        let home = partner_account();
        let target = customer(&home);
        let p = principal(&home, Base::Partner, PermissionSet::full(Base::Partner));
        let nav = navigation(&p, Some(&target));
        assert!(nav.account && nav.users && nav.integrations && nav.event_history);
        assert!(!nav.account_managers);
    }

    #[test]
    fn an_account_manager_sees_nothing_of_an_unassigned_account() {
        let home = partner_account();
        let assigned = customer(&home);
        let other = customer(&home);
        let mut p = principal(&home, Base::Partner, PermissionSet::full(Base::Partner));
        p.manager = ManagerScope::Restricted(HashSet::from([assigned.id]));
        assert!(navigation(&p, Some(&assigned)).users);
        let nav = navigation(&p, Some(&other));
        assert!(!nav.users && !nav.account && !nav.integrations);
        assert!(
            !nav.account_managers,
            "only unrestricted administrators manage managers"
        );
    }

    #[test]
    fn an_account_admin_sees_its_own_account_only() {
        let partner = partner_account();
        let home = customer(&partner);
        let p = principal(
            &home,
            Base::AccountAdmin,
            PermissionSet::full(Base::AccountAdmin),
        );
        let nav = navigation(&p, Some(&home));
        assert!(nav.account && nav.users && nav.roles && nav.integrations);
        assert!(!nav.accounts && !nav.account_managers && !nav.account_switcher);
        let elsewhere = customer(&partner);
        assert!(!navigation(&p, Some(&elsewhere)).users);
    }

    #[test]
    fn cleared_view_boxes_hide_their_entries() {
        let partner = partner_account();
        let home = customer(&partner);
        let mut perms = PermissionSet::full(Base::AccountAdmin);
        let mut without = PermissionSet::EMPTY;
        for (f, v) in perms.iter() {
            if f != Feature::Users && f != Feature::Support {
                without.insert(f, v);
            }
        }
        perms = without;
        let p = principal(&home, Base::AccountAdmin, perms);
        let nav = navigation(&p, Some(&home));
        assert!(!nav.users && !nav.event_history);
        assert!(nav.account && nav.integrations);
    }

    #[test]
    fn a_plain_user_only_changes_its_password() {
        let partner = partner_account();
        let home = customer(&partner);
        let p = principal(&home, Base::User, PermissionSet::EMPTY);
        let nav = navigation(&p, Some(&home));
        assert_eq!(
            nav,
            Navigation {
                change_password: true,
                ..Navigation::default()
            }
        );
        assert!(!nav.administers());
    }
}
