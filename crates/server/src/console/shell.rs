//! The frame around every console page: header (account switcher, notifications, avatar menu), the
//! role-aware navigation, the footer.

use skybridge_domain::navigation::{Navigation, navigation};
use skybridge_domain::policy::AccountRef;
use skybridge_store::accounts::AccountRow;

use super::session::Console;

/// The account a page is about, as the frame shows it.
#[derive(Debug, Clone)]
pub struct ShellAccount {
    pub id: String,
    pub name: String,
    pub number: i64,
}

/// Which navigation entry a page belongs to (for `aria-current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Accounts,
    Account,
    Users,
    Roles,
    AccountManagers,
    Integrations,
    EventHistory,
    Outbox,
    Notifications,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Dashboard => "dashboard",
            Section::Accounts => "accounts",
            Section::Account => "account",
            Section::Users => "users",
            Section::Roles => "roles",
            Section::AccountManagers => "managers",
            Section::Integrations => "integrations",
            Section::EventHistory => "events",
            Section::Outbox => "outbox",
            Section::Notifications => "notifications",
        }
    }
}

pub struct Shell {
    pub title: String,
    pub section: Section,
    pub user_name: String,
    pub user_email: String,
    pub initials: String,
    pub nav: Navigation,
    pub account: Option<ShellAccount>,
    pub csrf: String,
    pub outbox: bool,
    pub unread: i64,
    /// A one-line confirmation of what the last action did.
    pub notice: Option<String>,
}

impl Shell {
    /// The frame for `console`, looking at `account` (the customer account a partner stepped into, or an
    /// admin's own account).
    pub fn new(
        console: &Console,
        title: impl Into<String>,
        section: Section,
        account: Option<(&AccountRef, &AccountRow)>,
    ) -> Shell {
        let principal = &console.caller.principal;
        // An Account Admin always works in its own account; a partner only after choosing one.
        let own = !skybridge_domain::navigation::is_partner_staff(principal);
        let nav = navigation(
            principal,
            account.map(|(r, _)| r).or(own.then_some(&principal.home)),
        );
        Shell {
            title: title.into(),
            section,
            user_name: console.caller.display_name.clone(),
            user_email: console.caller.email.clone(),
            initials: initials(&console.caller.display_name),
            nav,
            account: account.map(|(_, row)| ShellAccount {
                id: row.id.clone(),
                name: row.name.clone(),
                number: row.number,
            }),
            csrf: console.csrf.clone(),
            outbox: console.outbox_visible,
            unread: console.unread,
            notice: None,
        }
    }

    pub fn with_notice(mut self, notice: Option<&str>) -> Shell {
        self.notice = notice.and_then(notice_text).map(str::to_string);
        self
    }

    /// The path prefix of the account's pages, e.g. `/console/a/<uuid>`.
    pub fn base(&self) -> String {
        match &self.account {
            Some(a) => format!("/console/a/{}", a.id),
            None => "/console".into(),
        }
    }

    /// `aria-current` of the navigation entry `key`.
    pub fn current(&self, key: &str) -> &'static str {
        if self.section.key() == key {
            "page"
        } else {
            "false"
        }
    }

    /// A frame with no navigation, for the error page of a request without a signed-in user.
    pub fn bare(title: impl Into<String>) -> Shell {
        Shell {
            title: title.into(),
            section: Section::Dashboard,
            user_name: String::new(),
            user_email: String::new(),
            initials: String::new(),
            nav: Navigation::default(),
            account: None,
            csrf: String::new(),
            outbox: false,
            unread: 0,
            notice: None,
        }
    }

    pub fn signed_in(&self) -> bool {
        !self.csrf.is_empty()
    }
}

/// The confirmations a redirect may ask a page to show; a fixed list, so a link cannot make the console say
/// anything else.
fn notice_text(key: &str) -> Option<&'static str> {
    Some(match key {
        "account-created" => "Account created.",
        "account-saved" => "Account information saved.",
        "account-deactivated" => "Account deactivated.",
        "account-reactivated" => "Account reactivated.",
        "account-deleted" => "Account deleted.",
        "user-created" => "User added. A welcome e-mail is on its way.",
        "user-saved" => "User saved.",
        "user-deleted" => "User deleted.",
        "users-deleted" => "Users deleted.",
        "welcome-sent" => "Welcome e-mails are on their way.",
        "reset-sent" => "Password reset e-mails are on their way.",
        "job-started" => {
            "Started. Its progress is shown here; the outcome goes to your notifications."
        }
        "job-cancelled" => "Cancelled. What was done before stays done.",
        "import-started" => {
            "Upload started: the rows without errors are being created (no welcome e-mails are sent). \
             Rows with errors stay in the import for you to fix."
        }
        "import-cancelled" => "Import cancelled. Nothing more is created from it.",
        "role-created" => "Role created.",
        "role-saved" => "Role saved.",
        "role-deleted" => "Role deleted.",
        "role-assigned" => "Role assigned to the selected accounts.",
        "role-unassigned" => "Role unassigned from the selected accounts.",
        "managers-converted" => "Converted to Account Managers.",
        "managers-upgraded" => "Upgraded to Administrators.",
        "accounts-assigned" => "Accounts assigned.",
        "accounts-unassigned" => "Accounts unassigned.",
        "integration-added" => "Integration added.",
        "integration-saved" => "Integration saved.",
        "integration-removed" => "Integration removed.",
        "keys-generated" => "New keys generated. Copy the secret token now: it is not shown again.",
        "columns-saved" => "Column choice saved.",
        _ => return None,
    })
}

fn initials(name: &str) -> String {
    let mut out: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    if out.is_empty() {
        out.push('?');
    }
    out.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("plato"), "P");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("Jean Luc Picard"), "JL");
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert!(notice_text("user-created").is_some());
        assert_eq!(notice_text("<script>"), None);
    }
}
