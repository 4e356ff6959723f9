//! The one authorization policy: `authorize(principal, account, feature, verb)`.
//!
//! Reach comes first (which accounts a principal can touch at all: its own, and for partner staff the
//! customer accounts of its partner, narrowed to the assigned ones for an Account Manager); an unreachable
//! account is reported as not found so that tenants cannot probe for each other. Then the role's permission
//! matrix decides. Success mints an [`AccountScope`], the only value the store accepts for account data.

use std::collections::HashSet;

use crate::account::{AccountKind, AccountStatus};
use crate::permissions::{Base, Feature, PermissionSet, Verb};
use crate::{AccountId, Denied, RoleId, UserId};

/// What the policy needs to know about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub id: AccountId,
    pub kind: AccountKind,
    /// The Partner Account a customer account belongs to; `None` for a Partner Account.
    pub partner_id: Option<AccountId>,
    pub status: AccountStatus,
}

impl AccountRef {
    /// The Partner Account this account is administered from (itself for a Partner Account).
    pub fn partner_root(&self) -> AccountId {
        self.partner_id.unwrap_or(self.id)
    }
}

/// Which customer accounts a partner administrator may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerScope {
    /// An Administrator: every customer account of the partner.
    Unrestricted,
    /// An Account Manager: only these.
    Restricted(HashSet<AccountId>),
}

/// An authenticated user, with its effective role resolved.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub name: String,
    pub home: AccountRef,
    pub base: Base,
    pub permissions: PermissionSet,
    pub custom_role: Option<RoleId>,
    pub manager: ManagerScope,
}

impl Principal {
    /// Whether the principal holds `verb` on `feature`, translating the Account Admin rows a partner meets
    /// when it steps into a customer account (the partner's Accounts row stands for the admin's Account row).
    pub fn holds(&self, feature: Feature, verb: Verb) -> bool {
        let feature = match (self.base, feature) {
            (Base::Partner, Feature::Account) => Feature::Accounts,
            (Base::Partner, Feature::MivoiceBusiness) if verb == Verb::View => {
                Feature::Integrations
            }
            _ => feature,
        };
        let direct = self.permissions.contains(feature, verb);
        if feature.view_gates_others() && verb != Verb::View {
            return direct && self.permissions.contains(feature, Verb::View);
        }
        direct
    }

    /// Partner staff who are not restricted to assigned accounts.
    pub fn is_unrestricted_partner(&self) -> bool {
        self.base == Base::Partner && self.manager == ManagerScope::Unrestricted
    }

    /// Whether `other`'s permission set is within the principal's: nobody grants more than it holds.
    pub fn may_grant(&self, base: Base, permissions: PermissionSet) -> bool {
        if base == Base::Partner && self.base != Base::Partner {
            return false;
        }
        permissions.iter().all(|(f, v)| self.holds(f, v))
    }
}

/// Proof that a principal may act on one account. Only [`authorize`] (and the explicitly named system
/// constructor) can create one, and every account-scoped store method takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountScope {
    account_id: AccountId,
}

impl AccountScope {
    pub fn account_id(&self) -> AccountId {
        self.account_id
    }

    /// For work no user performs: first-start bootstrap, background jobs, protocol endpoints that
    /// authenticate with their own per-account credential (SCIM). Grep for callers when reviewing.
    pub fn for_system(account_id: AccountId) -> Self {
        Self { account_id }
    }
}

/// Which accounts a list of accounts may contain for this principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountListScope {
    /// Customer accounts of one partner, optionally only the assigned ones.
    Partner {
        partner_id: AccountId,
        only: Option<Vec<AccountId>>,
    },
    /// Just the principal's own account.
    Own(AccountId),
}

/// Whether the principal can reach `target` at all. Unreachable is `NotFound`, never `Forbidden`.
pub fn reach(principal: &Principal, target: &AccountRef) -> Result<(), Denied> {
    if principal.home.status != AccountStatus::Active {
        return Err(Denied::forbidden("your account is deactivated"));
    }
    if target.status == AccountStatus::Deleted {
        return Err(Denied::NotFound);
    }
    if target.id == principal.home.id {
        return Ok(());
    }
    let partner_staff =
        principal.base == Base::Partner && principal.home.kind == AccountKind::Partner;
    if partner_staff && target.partner_id == Some(principal.home.id) {
        return match &principal.manager {
            ManagerScope::Unrestricted => Ok(()),
            ManagerScope::Restricted(set) if set.contains(&target.id) => Ok(()),
            ManagerScope::Restricted(_) => Err(Denied::NotFound),
        };
    }
    Err(Denied::NotFound)
}

/// The authorization policy. See the module documentation.
pub fn authorize(
    principal: &Principal,
    target: &AccountRef,
    feature: Feature,
    verb: Verb,
) -> Result<AccountScope, Denied> {
    reach(principal, target)?;
    if !principal.holds(feature, verb) {
        return Err(Denied::forbidden(format!(
            "your role does not allow {}.{} on this account",
            feature.as_str(),
            verb.as_str()
        )));
    }
    // An Account Manager administers its assigned customer accounts only. On its own Partner Account it may
    // look and create customer accounts, but not change partner staff, roles or anything partner-wide: each of
    // those would reach beyond its assignment (a token minted for an Administrator, a role edited that other
    // accounts hold).
    let restricted = matches!(principal.manager, ManagerScope::Restricted(_));
    if restricted
        && target.id == principal.home.id
        && target.kind == AccountKind::Partner
        && verb != Verb::View
        && (feature, verb) != (Feature::Accounts, Verb::Add)
    {
        return Err(Denied::forbidden(
            "Account Managers cannot change partner-wide settings, roles or staff",
        ));
    }
    Ok(AccountScope {
        account_id: target.id,
    })
}

/// The accounts an account list may show the principal.
pub fn account_list_scope(principal: &Principal) -> Result<AccountListScope, Denied> {
    if principal.home.status != AccountStatus::Active {
        return Err(Denied::forbidden("your account is deactivated"));
    }
    if principal.base == Base::Partner && principal.home.kind == AccountKind::Partner {
        let only = match &principal.manager {
            ManagerScope::Unrestricted => None,
            ManagerScope::Restricted(set) => {
                let mut v: Vec<AccountId> = set.iter().copied().collect();
                v.sort();
                Some(v)
            }
        };
        return Ok(AccountListScope::Partner {
            partner_id: principal.home.id,
            only,
        });
    }
    Ok(AccountListScope::Own(principal.home.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{Cell, cell};

    fn account(kind: AccountKind, partner: Option<AccountId>) -> AccountRef {
        AccountRef {
            id: AccountId::new(),
            kind,
            partner_id: partner,
            status: AccountStatus::Active,
        }
    }

    fn principal(
        home: &AccountRef,
        base: Base,
        permissions: PermissionSet,
        manager: ManagerScope,
    ) -> Principal {
        Principal {
            user_id: UserId::new(),
            name: "p".into(),
            home: home.clone(),
            base,
            permissions,
            custom_role: None,
            manager,
        }
    }

    struct World {
        partner: AccountRef,
        customer: AccountRef,
        other_customer: AccountRef,
        foreign_partner: AccountRef,
        foreign_customer: AccountRef,
    }

    fn world() -> World {
        let partner = account(AccountKind::Partner, None);
        let customer = account(AccountKind::Customer, Some(partner.id));
        let other_customer = account(AccountKind::Customer, Some(partner.id));
        let foreign_partner = account(AccountKind::Partner, None);
        let foreign_customer = account(AccountKind::Customer, Some(foreign_partner.id));
        World {
            partner,
            customer,
            other_customer,
            foreign_partner,
            foreign_customer,
        }
    }

    /// Every cell of the matrix, for a role holding exactly that cell (plus VIEW where VIEW gates it):
    /// allowed iff the cell is applicable; and a role lacking the cell is refused.
    #[test]
    fn every_cell_is_enforced() {
        let w = world();
        for (base, home, target) in [
            (Base::Partner, &w.partner, &w.customer),
            (Base::AccountAdmin, &w.customer, &w.customer),
        ] {
            for f in Feature::ALL {
                for v in Verb::ALL {
                    let mut only = PermissionSet::EMPTY;
                    only.insert(f, v);
                    only.insert(f, Verb::View);
                    let p = principal(home, base, only, ManagerScope::Unrestricted);
                    let applicable = cell(base, f, v) != Cell::NotApplicable;
                    let granted = authorize(&p, target, f, v).is_ok();
                    if applicable {
                        assert!(granted, "{base:?} {f:?} {v:?} should be allowed");
                    }
                    // A role holding everything but this cell is refused it.
                    let mut without = PermissionSet::EMPTY;
                    for (ff, vv) in PermissionSet::full(base).iter().filter(|c| *c != (f, v)) {
                        without.insert(ff, vv);
                    }
                    let p = principal(home, base, without, ManagerScope::Unrestricted);
                    let translated = base == Base::Partner
                        && matches!(f, Feature::Account | Feature::MivoiceBusiness);
                    if !translated {
                        assert!(
                            matches!(authorize(&p, target, f, v), Err(Denied::Forbidden(_))),
                            "{base:?} without {f:?} {v:?} should be refused"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn managers_only_look_at_their_partner_account() {
        let w = world();
        let manager = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Restricted([w.customer.id].into_iter().collect()),
        );
        assert!(authorize(&manager, &w.partner, Feature::Users, Verb::View).is_ok());
        assert!(authorize(&manager, &w.partner, Feature::Accounts, Verb::Add).is_ok());
        for (f, v) in [
            (Feature::Users, Verb::Add),
            (Feature::Users, Verb::Edit),
            (Feature::Users, Verb::Delete),
            (Feature::Roles, Verb::Add),
            (Feature::Roles, Verb::Edit),
            (Feature::Roles, Verb::Assign),
            (Feature::Roles, Verb::Delete),
        ] {
            assert!(
                matches!(
                    authorize(&manager, &w.partner, f, v),
                    Err(Denied::Forbidden(_))
                ),
                "{f:?} {v:?}"
            );
        }
        // In an assigned customer account the manager acts with its full role.
        assert!(authorize(&manager, &w.customer, Feature::Users, Verb::Delete).is_ok());
        assert!(authorize(&manager, &w.customer, Feature::Roles, Verb::Edit).is_ok());
    }

    #[test]
    fn view_gates_other_verbs_even_if_stored() {
        let w = world();
        let mut set = PermissionSet::EMPTY;
        set.insert(Feature::Users, Verb::Add);
        let p = principal(
            &w.customer,
            Base::AccountAdmin,
            set,
            ManagerScope::Unrestricted,
        );
        assert!(authorize(&p, &w.customer, Feature::Users, Verb::Add).is_err());
    }

    #[test]
    fn partner_translation_for_account_rows() {
        let w = world();
        let p = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Unrestricted,
        );
        assert!(authorize(&p, &w.customer, Feature::Account, Verb::Edit).is_ok());
        let mut no_edit = PermissionSet::EMPTY;
        no_edit.insert(Feature::Accounts, Verb::View);
        let p = principal(
            &w.partner,
            Base::Partner,
            no_edit,
            ManagerScope::Unrestricted,
        );
        assert!(authorize(&p, &w.customer, Feature::Account, Verb::Edit).is_err());
        assert!(authorize(&p, &w.customer, Feature::Account, Verb::View).is_ok());
    }

    #[test]
    fn reach_across_tenants() {
        let w = world();
        let full = PermissionSet::full(Base::Partner);
        let admin_full = PermissionSet::full(Base::AccountAdmin);
        let partner = principal(&w.partner, Base::Partner, full, ManagerScope::Unrestricted);
        assert!(authorize(&partner, &w.customer, Feature::Users, Verb::View).is_ok());
        assert!(authorize(&partner, &w.partner, Feature::Users, Verb::View).is_ok());
        assert_eq!(
            authorize(&partner, &w.foreign_customer, Feature::Users, Verb::View),
            Err(Denied::NotFound)
        );
        assert_eq!(
            authorize(&partner, &w.foreign_partner, Feature::Users, Verb::View),
            Err(Denied::NotFound)
        );

        let manager = principal(
            &w.partner,
            Base::Partner,
            full,
            ManagerScope::Restricted([w.customer.id].into_iter().collect()),
        );
        assert!(authorize(&manager, &w.customer, Feature::Users, Verb::View).is_ok());
        assert_eq!(
            authorize(&manager, &w.other_customer, Feature::Users, Verb::View),
            Err(Denied::NotFound)
        );

        let admin = principal(
            &w.customer,
            Base::AccountAdmin,
            admin_full,
            ManagerScope::Unrestricted,
        );
        assert!(authorize(&admin, &w.customer, Feature::Users, Verb::Delete).is_ok());
        for t in [&w.partner, &w.other_customer, &w.foreign_customer] {
            assert_eq!(
                authorize(&admin, t, Feature::Users, Verb::View),
                Err(Denied::NotFound)
            );
        }

        let user = principal(
            &w.customer,
            Base::User,
            PermissionSet::EMPTY,
            ManagerScope::Unrestricted,
        );
        for f in Feature::ALL {
            for v in Verb::ALL {
                assert!(matches!(
                    authorize(&user, &w.customer, f, v),
                    Err(Denied::Forbidden(_))
                ));
            }
        }
    }

    #[test]
    fn deleted_and_deactivated() {
        let w = world();
        let mut deleted = w.customer.clone();
        deleted.status = AccountStatus::Deleted;
        let partner = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Unrestricted,
        );
        assert_eq!(
            authorize(&partner, &deleted, Feature::Users, Verb::View),
            Err(Denied::NotFound)
        );
        let mut home = w.customer.clone();
        home.status = AccountStatus::Deactivated;
        let admin = principal(
            &home,
            Base::AccountAdmin,
            PermissionSet::full(Base::AccountAdmin),
            ManagerScope::Unrestricted,
        );
        assert!(matches!(
            authorize(&admin, &home, Feature::Users, Verb::View),
            Err(Denied::Forbidden(_))
        ));
        assert!(account_list_scope(&admin).is_err());
    }

    #[test]
    fn list_scopes() {
        let w = world();
        let partner = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Unrestricted,
        );
        assert_eq!(
            account_list_scope(&partner).unwrap(),
            AccountListScope::Partner {
                partner_id: w.partner.id,
                only: None
            }
        );
        let manager = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Restricted([w.customer.id].into_iter().collect()),
        );
        assert_eq!(
            account_list_scope(&manager).unwrap(),
            AccountListScope::Partner {
                partner_id: w.partner.id,
                only: Some(vec![w.customer.id])
            }
        );
        let admin = principal(
            &w.customer,
            Base::AccountAdmin,
            PermissionSet::full(Base::AccountAdmin),
            ManagerScope::Unrestricted,
        );
        assert_eq!(
            account_list_scope(&admin).unwrap(),
            AccountListScope::Own(w.customer.id)
        );
    }

    #[test]
    fn granting_never_escalates() {
        let w = world();
        let partner = principal(
            &w.partner,
            Base::Partner,
            PermissionSet::full(Base::Partner),
            ManagerScope::Unrestricted,
        );
        assert!(partner.may_grant(Base::AccountAdmin, PermissionSet::full(Base::AccountAdmin)));
        assert!(partner.may_grant(Base::Partner, PermissionSet::full(Base::Partner)));
        let admin = principal(
            &w.customer,
            Base::AccountAdmin,
            PermissionSet::full(Base::AccountAdmin),
            ManagerScope::Unrestricted,
        );
        assert!(!admin.may_grant(Base::Partner, PermissionSet::EMPTY));
        assert!(admin.may_grant(Base::AccountAdmin, PermissionSet::full(Base::AccountAdmin)));
        assert!(admin.may_grant(Base::User, PermissionSet::EMPTY));
        let mut restricted = PermissionSet::full(Base::AccountAdmin);
        restricted = PermissionSet::from_names(
            "p",
            &restricted
                .to_names()
                .into_iter()
                .filter(|n| n != "users.delete")
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let limited = principal(
            &w.customer,
            Base::AccountAdmin,
            restricted,
            ManagerScope::Unrestricted,
        );
        assert!(!limited.may_grant(Base::AccountAdmin, PermissionSet::full(Base::AccountAdmin)));
        assert!(limited.may_grant(Base::AccountAdmin, restricted));
    }
}
