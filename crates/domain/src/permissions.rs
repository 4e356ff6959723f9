//! The permission matrix of roles: features × verbs, per base role, with the cells that are fixed on and the
//! cross-row rules. Built-in roles hold every applicable cell of their base; a custom role holds a subset.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The Partner's customer accounts (create, change, delete; always visible).
    Accounts,
    /// An Account Admin's own account page (always visible; edit is configurable).
    Account,
    Users,
    UserTemplates,
    Roles,
    Integrations,
    Subscriptions,
    Support,
    MivoiceBusiness,
    CustomerCare,
    Developer,
    Orders,
}

impl Feature {
    pub const ALL: [Feature; 12] = [
        Feature::Accounts,
        Feature::Account,
        Feature::Users,
        Feature::UserTemplates,
        Feature::Roles,
        Feature::Integrations,
        Feature::Subscriptions,
        Feature::Support,
        Feature::MivoiceBusiness,
        Feature::CustomerCare,
        Feature::Developer,
        Feature::Orders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Accounts => "accounts",
            Feature::Account => "account",
            Feature::Users => "users",
            Feature::UserTemplates => "user_templates",
            Feature::Roles => "roles",
            Feature::Integrations => "integrations",
            Feature::Subscriptions => "subscriptions",
            Feature::Support => "support",
            Feature::MivoiceBusiness => "mivoice_business",
            Feature::CustomerCare => "customer_care",
            Feature::Developer => "developer",
            Feature::Orders => "orders",
        }
    }

    /// Rows where VIEW is the prerequisite of every other verb.
    pub fn view_gates_others(self) -> bool {
        matches!(
            self,
            Feature::Users
                | Feature::UserTemplates
                | Feature::Roles
                | Feature::Integrations
                | Feature::Subscriptions
        )
    }

    fn index(self) -> u32 {
        Feature::ALL
            .iter()
            .position(|f| *f == self)
            .map_or(0, |i| i as u32)
    }
}

impl FromStr for Feature {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    View,
    Add,
    Edit,
    Assign,
    Delete,
}

impl Verb {
    pub const ALL: [Verb; 5] = [
        Verb::View,
        Verb::Add,
        Verb::Edit,
        Verb::Assign,
        Verb::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::View => "view",
            Verb::Add => "add",
            Verb::Edit => "edit",
            Verb::Assign => "assign",
            Verb::Delete => "delete",
        }
    }

    fn index(self) -> u32 {
        Verb::ALL
            .iter()
            .position(|v| *v == self)
            .map_or(0, |i| i as u32)
    }
}

impl FromStr for Verb {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Verb::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

/// The base a role is built on. `User` is the built-in end-user role and cannot be the base of a custom role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Base {
    Partner,
    AccountAdmin,
    User,
}

impl Base {
    pub fn as_str(self) -> &'static str {
        match self {
            Base::Partner => "partner",
            Base::AccountAdmin => "account_admin",
            Base::User => "user",
        }
    }
}

impl FromStr for Base {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "partner" => Ok(Base::Partner),
            "account_admin" => Ok(Base::AccountAdmin),
            "user" => Ok(Base::User),
            _ => Err(()),
        }
    }
}

/// How a cell of the matrix behaves for a base role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Not applicable ("-" in the console).
    NotApplicable,
    /// Always on; shown as a read-only checked box.
    AlwaysOn,
    /// On in the built-in role; a custom role may clear it.
    Configurable,
}

/// The permission matrix of spec/accounts.md §11.
pub fn cell(base: Base, feature: Feature, verb: Verb) -> Cell {
    use Cell::{AlwaysOn as R, Configurable as C, NotApplicable as N};
    use Feature as F;
    use Verb as V;
    let row: [Cell; 5] = match (base, feature) {
        (Base::User, _) => [N; 5],
        (Base::Partner, F::Accounts) => [R, C, C, N, C],
        (Base::AccountAdmin, F::Account) => [R, N, C, N, N],
        (_, F::Users) | (_, F::UserTemplates) | (_, F::Integrations) => [C, C, C, N, C],
        (Base::Partner, F::Roles) => [C, C, C, C, C],
        (Base::AccountAdmin, F::Roles) => [C, N, N, C, N],
        (Base::Partner, F::Subscriptions) => [C, C, N, N, N],
        (Base::AccountAdmin, F::Subscriptions) => [C, N, N, N, N],
        (_, F::Support) | (_, F::CustomerCare) => [C, N, N, N, N],
        (Base::AccountAdmin, F::MivoiceBusiness) => [C, N, N, N, N],
        (Base::Partner, F::Developer) | (Base::Partner, F::Orders) => [C, N, N, N, N],
        _ => [N; 5],
    };
    let i = match verb {
        V::View => 0,
        V::Add => 1,
        V::Edit => 2,
        V::Assign => 3,
        V::Delete => 4,
    };
    row[i]
}

/// A set of (feature, verb) grants, as a bit set: 12 features × 5 verbs fit in a u64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    fn bit(feature: Feature, verb: Verb) -> u64 {
        1u64 << (feature.index() * 5 + verb.index())
    }

    pub fn contains(self, feature: Feature, verb: Verb) -> bool {
        self.0 & Self::bit(feature, verb) != 0
    }

    pub fn insert(&mut self, feature: Feature, verb: Verb) {
        self.0 |= Self::bit(feature, verb);
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Every applicable cell of a base: what the built-in role holds.
    pub fn full(base: Base) -> PermissionSet {
        let mut set = PermissionSet::EMPTY;
        for f in Feature::ALL {
            for v in Verb::ALL {
                if cell(base, f, v) != Cell::NotApplicable {
                    set.insert(f, v);
                }
            }
        }
        set
    }

    pub fn iter(self) -> impl Iterator<Item = (Feature, Verb)> {
        Feature::ALL
            .into_iter()
            .flat_map(|f| Verb::ALL.into_iter().map(move |v| (f, v)))
            .filter(move |(f, v)| self.contains(*f, *v))
    }

    /// Grant names as stored and shown by the API: `"users.add"`.
    pub fn to_names(self) -> Vec<String> {
        self.iter()
            .map(|(f, v)| format!("{}.{}", f.as_str(), v.as_str()))
            .collect()
    }

    /// Parses grant names without checking them against a base (see [`custom_role_permissions`]).
    pub fn from_names<S: AsRef<str>>(
        field: &str,
        names: &[S],
    ) -> Result<PermissionSet, ValidationError> {
        let mut set = PermissionSet::EMPTY;
        for name in names {
            let name = name.as_ref();
            let parsed = name
                .split_once('.')
                .and_then(|(f, v)| Some((f.parse::<Feature>().ok()?, v.parse::<Verb>().ok()?)));
            let Some((f, v)) = parsed else {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "unknown permission {name:?}; permissions are written feature.verb, e.g. users.view"
                    ),
                ));
            };
            set.insert(f, v);
        }
        Ok(set)
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_names()).finish()
    }
}

/// Checks and completes the permissions of a custom role on `base`: every grant must be applicable to the
/// base (a custom role only restricts), always-on cells are added, and the cross-row rules must hold.
pub fn custom_role_permissions(
    base: Base,
    requested: PermissionSet,
) -> Result<PermissionSet, ValidationError> {
    const FIELD: &str = "permissions";
    if base == Base::User {
        return Err(ValidationError::new(
            "base",
            "custom roles are based on partner or account_admin",
        ));
    }
    let mut set = requested;
    for (f, v) in requested.iter() {
        if cell(base, f, v) == Cell::NotApplicable {
            return Err(ValidationError::new(
                FIELD,
                format!(
                    "{}.{} is not available on a role based on {}",
                    f.as_str(),
                    v.as_str(),
                    base.as_str()
                ),
            ));
        }
    }
    for f in Feature::ALL {
        for v in Verb::ALL {
            if cell(base, f, v) == Cell::AlwaysOn {
                set.insert(f, v);
            }
        }
    }
    for (f, v) in set.iter() {
        if f.view_gates_others() && v != Verb::View && !set.contains(f, Verb::View) {
            return Err(ValidationError::new(
                FIELD,
                format!("{}.{} requires {}.view", f.as_str(), v.as_str(), f.as_str()),
            ));
        }
    }
    if base == Base::Partner
        && set.contains(Feature::Subscriptions, Verb::Add)
        && !set.contains(Feature::Subscriptions, Verb::View)
    {
        return Err(ValidationError::new(
            FIELD,
            "subscriptions.add requires subscriptions.view",
        ));
    }
    Ok(set)
}

/// Cross-row rule: sending welcome e-mails and the bulk Manage actions need Users ADD or EDIT.
pub fn may_send_welcome_mail(set: PermissionSet) -> bool {
    set.contains(Feature::Users, Verb::View)
        && (set.contains(Feature::Users, Verb::Add) || set.contains(Feature::Users, Verb::Edit))
}

/// Cross-row rule: configuring an integration or toggling a privilege needs Integrations ADD or EDIT.
pub fn may_configure_integrations(set: PermissionSet) -> bool {
    set.contains(Feature::Integrations, Verb::View)
        && (set.contains(Feature::Integrations, Verb::Add)
            || set.contains(Feature::Integrations, Verb::Edit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole matrix of spec/accounts.md §11, written out cell by cell: R = always on, C = configurable,
    /// - = not applicable. Columns VIEW ADD EDIT ASSIGN DELETE.
    const PARTNER: &[(&str, &str)] = &[
        ("accounts", "RCC-C"),
        ("account", "-----"),
        ("users", "CCC-C"),
        ("user_templates", "CCC-C"),
        ("roles", "CCCCC"),
        ("integrations", "CCC-C"),
        ("subscriptions", "CC---"),
        ("support", "C----"),
        ("mivoice_business", "-----"),
        ("customer_care", "C----"),
        ("developer", "C----"),
        ("orders", "C----"),
    ];
    const ADMIN: &[(&str, &str)] = &[
        ("accounts", "-----"),
        ("account", "R-C--"),
        ("users", "CCC-C"),
        ("user_templates", "CCC-C"),
        ("roles", "C--C-"),
        ("integrations", "CCC-C"),
        ("subscriptions", "C----"),
        ("support", "C----"),
        ("mivoice_business", "C----"),
        ("customer_care", "C----"),
        ("developer", "-----"),
        ("orders", "-----"),
    ];

    #[test]
    fn every_cell_matches_the_spec() {
        for (base, table) in [(Base::Partner, PARTNER), (Base::AccountAdmin, ADMIN)] {
            assert_eq!(table.len(), Feature::ALL.len());
            for (feature, row) in table {
                let f: Feature = feature.parse().unwrap();
                for (v, expected) in Verb::ALL.into_iter().zip(row.chars()) {
                    let want = match expected {
                        'R' => Cell::AlwaysOn,
                        'C' => Cell::Configurable,
                        _ => Cell::NotApplicable,
                    };
                    assert_eq!(cell(base, f, v), want, "{base:?} {feature}.{}", v.as_str());
                }
            }
        }
        for f in Feature::ALL {
            for v in Verb::ALL {
                assert_eq!(cell(Base::User, f, v), Cell::NotApplicable);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        let full = PermissionSet::full(Base::Partner);
        let back = PermissionSet::from_names("p", &full.to_names()).unwrap();
        assert_eq!(back, full);
        assert!(
            PermissionSet::from_names("p", &["users.fly"])
                .unwrap_err()
                .message
                .contains("users.fly")
        );
        assert!(PermissionSet::from_names("p", &["nothing"]).is_err());
    }

    #[test]
    fn custom_roles_only_restrict() {
        let err = custom_role_permissions(
            Base::AccountAdmin,
            PermissionSet::from_names("p", &["orders.view"]).unwrap(),
        )
        .unwrap_err();
        assert!(err.message.contains("orders.view is not available"));
        let err = custom_role_permissions(
            Base::Partner,
            PermissionSet::from_names("p", &["account.edit"]).unwrap(),
        )
        .unwrap_err();
        assert!(err.message.contains("account.edit"));
        assert!(custom_role_permissions(Base::User, PermissionSet::EMPTY).is_err());
    }

    #[test]
    fn always_on_cells_are_added() {
        let set = custom_role_permissions(Base::Partner, PermissionSet::EMPTY).unwrap();
        assert!(set.contains(Feature::Accounts, Verb::View));
        assert_eq!(set.iter().count(), 1);
        let set = custom_role_permissions(Base::AccountAdmin, PermissionSet::EMPTY).unwrap();
        assert!(set.contains(Feature::Account, Verb::View));
        assert!(!set.contains(Feature::Account, Verb::Edit));
    }

    #[test]
    fn view_gates_every_other_verb() {
        for base in [Base::Partner, Base::AccountAdmin] {
            for f in Feature::ALL.into_iter().filter(|f| f.view_gates_others()) {
                for v in Verb::ALL.into_iter().filter(|v| *v != Verb::View) {
                    if cell(base, f, v) == Cell::NotApplicable {
                        continue;
                    }
                    let mut set = PermissionSet::EMPTY;
                    set.insert(f, v);
                    let err = custom_role_permissions(base, set).unwrap_err();
                    assert!(err.message.contains("requires"), "{base:?} {f:?} {v:?}");
                    set.insert(f, Verb::View);
                    assert!(
                        custom_role_permissions(base, set).is_ok(),
                        "{base:?} {f:?} {v:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn welcome_mail_and_integration_rules() {
        let p = |names: &[&str]| PermissionSet::from_names("p", names).unwrap();
        assert!(!may_send_welcome_mail(p(&["users.view"])));
        assert!(may_send_welcome_mail(p(&["users.view", "users.add"])));
        assert!(may_send_welcome_mail(p(&["users.view", "users.edit"])));
        assert!(!may_send_welcome_mail(p(&["users.view", "users.delete"])));
        assert!(!may_configure_integrations(p(&[
            "integrations.view",
            "integrations.delete"
        ])));
        assert!(may_configure_integrations(p(&[
            "integrations.view",
            "integrations.add"
        ])));
        assert!(may_configure_integrations(p(&[
            "integrations.view",
            "integrations.edit"
        ])));
    }

    #[test]
    fn built_ins_are_full_and_nested() {
        assert!(PermissionSet::EMPTY.is_subset_of(PermissionSet::full(Base::User)));
        assert_eq!(PermissionSet::full(Base::User), PermissionSet::EMPTY);
        let admin = PermissionSet::full(Base::AccountAdmin);
        assert!(admin.contains(Feature::Users, Verb::Delete));
        assert!(!admin.contains(Feature::Accounts, Verb::View));
    }
}
