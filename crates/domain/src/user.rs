//! Users of an account and the role they hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RoleId;
use crate::permissions::Base;

/// The role a user holds: one of the built-ins or a custom role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleRef {
    Builtin(Base),
    Custom(RoleId),
}

impl RoleRef {
    /// How the role is written in the API and the store: `partner`, `account_admin`, `user` or a role id.
    pub fn key(&self) -> String {
        match self {
            RoleRef::Builtin(b) => b.as_str().to_string(),
            RoleRef::Custom(id) => id.to_string(),
        }
    }
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl FromStr for RoleRef {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        if let Ok(b) = s.parse::<Base>() {
            return Ok(RoleRef::Builtin(b));
        }
        s.parse::<RoleId>().map(RoleRef::Custom).map_err(|_| ())
    }
}

/// Where a user came from; anything but `console`/`api`/`import` is synced from elsewhere and may be
/// overwritten by the next sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Console,
    Api,
    Import,
    Scim,
    Pbx,
    MicloudConnect,
    System,
}

impl Source {
    pub const ALL: [Source; 7] = [
        Source::Console,
        Source::Api,
        Source::Import,
        Source::Scim,
        Source::Pbx,
        Source::MicloudConnect,
        Source::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Console => "console",
            Source::Api => "api",
            Source::Import => "import",
            Source::Scim => "scim",
            Source::Pbx => "pbx",
            Source::MicloudConnect => "micloud_connect",
            Source::System => "system",
        }
    }

    /// Users synced from MiCloud Connect cannot be deleted here (spec/accounts.md §5).
    pub fn deletable(self) -> bool {
        self != Source::MicloudConnect
    }
}

impl FromStr for Source {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Source::ALL.into_iter().find(|x| x.as_str() == s).ok_or(())
    }
}

/// The Property filters of the Users list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyFilter {
    Admins,
    Users,
    Registered,
    Unregistered,
    PbxUsers,
    MicloudConnected,
    Inactive,
}

impl FromStr for PropertyFilter {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "admins" => PropertyFilter::Admins,
            "users" => PropertyFilter::Users,
            "registered" => PropertyFilter::Registered,
            "unregistered" => PropertyFilter::Unregistered,
            "pbx_users" => PropertyFilter::PbxUsers,
            "micloud_connected" => PropertyFilter::MicloudConnected,
            "inactive" => PropertyFilter::Inactive,
            _ => return Err(()),
        })
    }
}

/// The display name when none is given: first and last name joined.
pub fn derived_display_name(first: &str, last: &str) -> String {
    match (first.trim(), last.trim()) {
        ("", l) => l.to_string(),
        (f, "") => f.to_string(),
        (f, l) => format!("{f} {l}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_refs_round_trip() {
        for s in ["partner", "account_admin", "user"] {
            assert_eq!(s.parse::<RoleRef>().unwrap().key(), s);
        }
        let id = RoleId::new();
        assert_eq!(
            id.to_string().parse::<RoleRef>().unwrap(),
            RoleRef::Custom(id)
        );
        assert!("admin".parse::<RoleRef>().is_err());
    }

    #[test]
    fn display_names() {
        assert_eq!(derived_display_name("Ada", "Lovelace"), "Ada Lovelace");
        assert_eq!(derived_display_name(" ", "Lovelace"), "Lovelace");
        assert_eq!(derived_display_name("Ada", ""), "Ada");
    }

    #[test]
    fn sources() {
        for s in Source::ALL {
            assert_eq!(s.as_str().parse::<Source>().unwrap(), s);
        }
        assert!(!Source::MicloudConnect.deletable());
        assert!(Source::Scim.deletable());
    }
}
