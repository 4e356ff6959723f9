//! The integrations catalog and the rules of an account's integrations registry: what may be added, which
//! privileges an integration switches on, and when removing one switches a privilege off.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Mitel,
    ThirdParty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privilege {
    DelegatedAuthentication,
    AllowGuestAccess,
}

impl Privilege {
    pub const ALL: [Privilege; 2] = [
        Privilege::DelegatedAuthentication,
        Privilege::AllowGuestAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::DelegatedAuthentication => "delegated_authentication",
            Privilege::AllowGuestAccess => "allow_guest_access",
        }
    }
}

/// One entry of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    pub key: &'static str,
    pub name: &'static str,
    pub vendor: Vendor,
    pub privileges: &'static [Privilege],
    /// Integrations that cannot be on the same account.
    #[serde(skip)]
    pub incompatible_with: &'static [&'static str],
}

/// The chat service: always present, never in the add dialog, never removed.
pub const CHAT: &str = "chat";

const DA: Privilege = Privilege::DelegatedAuthentication;
const GA: Privilege = Privilege::AllowGuestAccess;

pub const CATALOG: &[CatalogEntry] = &[
    entry("micc", "MiCC", Vendor::Mitel, &[DA, GA]),
    entry("micollab", "MiCollab", Vendor::Mitel, &[DA]),
    entry("cloudlink_gateway", "CloudLink Gateway", Vendor::Mitel, &[]),
    entry("mitel_one", "Mitel One", Vendor::Mitel, &[GA]),
    entry(
        "mitel_one_workgroups",
        "Mitel One Workgroups",
        Vendor::Mitel,
        &[],
    ),
    entry(
        "mitel_voice_assist",
        "Mitel Voice Assist",
        Vendor::Mitel,
        &[],
    ),
    CatalogEntry {
        key: "mivoice_business",
        name: "MiVoice Business",
        vendor: Vendor::Mitel,
        privileges: &[],
        incompatible_with: &["mivoice_5000"],
    },
    CatalogEntry {
        key: "mivoice_5000",
        name: "MiVoice 5000",
        vendor: Vendor::Mitel,
        privileges: &[],
        incompatible_with: &["mivoice_business"],
    },
    entry("miteam_meetings", "MiTeam Meetings", Vendor::Mitel, &[GA]),
    entry("mitel_cx", "Mitel CX", Vendor::Mitel, &[]),
    entry(
        "workflow_studio",
        "Mitel Workflow Studio",
        Vendor::Mitel,
        &[],
    ),
    entry("unify_phone", "Unify Phone", Vendor::Mitel, &[DA]),
    entry("single_sign_on", "Single Sign-On", Vendor::ThirdParty, &[]),
    entry("entra_id_sync", "Entra ID Sync", Vendor::ThirdParty, &[]),
    entry(
        "office_365",
        "Microsoft Office 365",
        Vendor::ThirdParty,
        &[],
    ),
    entry(
        "microsoft_teams",
        "Microsoft Teams",
        Vendor::ThirdParty,
        &[],
    ),
    entry("zoom", "Zoom", Vendor::ThirdParty, &[]),
    entry("twilio", "Twilio", Vendor::ThirdParty, &[]),
    entry("cm_com", "CM.com", Vendor::ThirdParty, &[]),
];

const fn entry(
    key: &'static str,
    name: &'static str,
    vendor: Vendor,
    privileges: &'static [Privilege],
) -> CatalogEntry {
    CatalogEntry {
        key,
        name,
        vendor,
        privileges,
        incompatible_with: &[],
    }
}

pub fn find(key: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.key == key)
}

/// The setup state of an account's integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupState {
    /// Added; the console offers "Complete setup".
    Incomplete,
    /// "Onboarding Complete".
    Complete,
}

impl SetupState {
    pub fn as_str(self) -> &'static str {
        match self {
            SetupState::Incomplete => "incomplete",
            SetupState::Complete => "complete",
        }
    }
}

impl FromStr for SetupState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "incomplete" => Ok(SetupState::Incomplete),
            "complete" => Ok(SetupState::Complete),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    #[error("unknown integration {0:?}")]
    Unknown(String),
    #[error("Partner accounts cannot hold integrations")]
    PartnerAccount,
    #[error("{0} is already added to this account")]
    AlreadyAdded(&'static str),
    #[error("{0}: Not compatible with selected integrations")]
    Incompatible(&'static str),
    #[error("the Chat integration is always present and cannot be added or removed")]
    Chat,
}

/// Checks that `key` may be added to an account that already holds `present`, returning its entry.
pub fn check_add(
    key: &str,
    is_partner_account: bool,
    present: &[String],
) -> Result<&'static CatalogEntry, IntegrationError> {
    if key == CHAT {
        return Err(IntegrationError::Chat);
    }
    let entry = find(key).ok_or_else(|| IntegrationError::Unknown(key.to_string()))?;
    if is_partner_account {
        return Err(IntegrationError::PartnerAccount);
    }
    if present.iter().any(|p| p == key) {
        return Err(IntegrationError::AlreadyAdded(entry.name));
    }
    if present
        .iter()
        .any(|p| entry.incompatible_with.contains(&p.as_str()))
    {
        return Err(IntegrationError::Incompatible(entry.name));
    }
    Ok(entry)
}

/// The privileges to switch off when `removed` goes: those it needs that no remaining integration needs.
pub fn privileges_released(removed: &CatalogEntry, remaining: &[String]) -> Vec<Privilege> {
    removed
        .privileges
        .iter()
        .copied()
        .filter(|p| {
            !remaining
                .iter()
                .filter_map(|k| find(k))
                .any(|e| e.privileges.contains(p))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_keys_are_unique() {
        for (i, a) in CATALOG.iter().enumerate() {
            assert!(CATALOG[i + 1..].iter().all(|b| b.key != a.key), "{}", a.key);
        }
    }

    #[test]
    fn add_rules() {
        assert_eq!(check_add("zoom", false, &[]).unwrap().name, "Zoom");
        assert_eq!(
            check_add("zoom", true, &[]),
            Err(IntegrationError::PartnerAccount)
        );
        assert_eq!(
            check_add("nope", false, &[]),
            Err(IntegrationError::Unknown("nope".into()))
        );
        assert_eq!(check_add("chat", false, &[]), Err(IntegrationError::Chat));
        assert_eq!(
            check_add("zoom", false, &["zoom".into()]),
            Err(IntegrationError::AlreadyAdded("Zoom"))
        );
        let err = check_add("mivoice_business", false, &["mivoice_5000".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MiVoice Business: Not compatible with selected integrations"
        );
        assert!(check_add("mivoice_5000", false, &["mivoice_business".into()]).is_err());
    }

    #[test]
    fn privileges_are_reference_counted() {
        let micc = find("micc").unwrap();
        assert_eq!(privileges_released(micc, &[]), vec![DA, GA]);
        assert_eq!(privileges_released(micc, &["micollab".into()]), vec![GA]);
        assert_eq!(
            privileges_released(micc, &["micollab".into(), "mitel_one".into()]),
            Vec::<Privilege>::new()
        );
        assert!(privileges_released(find("zoom").unwrap(), &[]).is_empty());
    }
}
