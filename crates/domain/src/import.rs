//! Bulk import of users: the rules a staged spreadsheet row must meet before it becomes a user.
//!
//! A row is checked on its own (names, e-mail syntax, role) and against its surroundings (an e-mail already
//! held by a user of the account, or repeated by an earlier row of the sheet). Each problem is attached to
//! one cell with a stable code, so the preview can mark the cell and a script can act on the code.

use serde::{Deserialize, Serialize};

use crate::permissions::{Base, Feature, PermissionSet, Verb};
use crate::policy::{AccountRef, Principal, authorize};
use crate::user::derived_display_name;
use crate::validate::{self, DISPLAY_NAME_MAX, NAME_MAX};

/// The template's columns, in order.
pub const HEADERS: [&str; 5] = ["FIRST NAME", "LAST NAME", "NAME", "EMAIL", "ROLE"];
/// The most rows one import may stage.
pub const MAX_ROWS: usize = 50_000;
/// How long a staged import waits for its commit.
pub const STAGE_TTL_MICROS: i64 = 24 * 3600 * 1_000_000;

/// One cell of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    FirstName,
    LastName,
    Name,
    Email,
    Role,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::FirstName,
        Column::LastName,
        Column::Name,
        Column::Email,
        Column::Role,
    ];

    /// The template's header of this column.
    pub fn header(self) -> &'static str {
        match self {
            Column::FirstName => HEADERS[0],
            Column::LastName => HEADERS[1],
            Column::Name => HEADERS[2],
            Column::Email => HEADERS[3],
            Column::Role => HEADERS[4],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Column::FirstName => "first_name",
            Column::LastName => "last_name",
            Column::Name => "name",
            Column::Email => "email",
            Column::Role => "role",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A staged row as the admin typed it (trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowValues {
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

impl RowValues {
    pub fn get(&self, c: Column) -> &str {
        match c {
            Column::FirstName => &self.first_name,
            Column::LastName => &self.last_name,
            Column::Name => &self.name,
            Column::Email => &self.email,
            Column::Role => &self.role,
        }
    }

    pub fn set(&mut self, c: Column, value: String) {
        let slot = match c {
            Column::FirstName => &mut self.first_name,
            Column::LastName => &mut self.last_name,
            Column::Name => &mut self.name,
            Column::Email => &mut self.email,
            Column::Role => &mut self.role,
        };
        *slot = value.trim().to_string();
    }

    /// The key two rows (or a row and a user) share when they name the same mailbox; `None` when the
    /// address is not valid (such a row has its own error and cannot collide).
    pub fn email_key(&self) -> Option<String> {
        validate::email("email", &self.email)
            .ok()
            .map(|e| validate::email_key(&e))
    }
}

/// A problem with one cell of a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub column: Column,
    /// Stable: `required`, `invalid`, `too_long`, `exists`, `duplicate`, `role`, `formula`, `not_allowed`.
    pub code: String,
    pub message: String,
}

impl Issue {
    fn new(column: Column, code: &str, message: impl Into<String>) -> Issue {
        Issue {
            column,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// What a row is checked against besides itself.
#[derive(Debug, Clone, Default)]
pub struct Surroundings {
    /// A user of the account already has this e-mail.
    pub email_taken: bool,
    /// The line of an earlier row of the import with the same e-mail.
    pub repeats_line: Option<usize>,
    /// The columns whose cell held a spreadsheet formula (its computed value is not trusted as data).
    pub formulas: Vec<Column>,
    /// The importing admin may hand out the Account Admin role.
    pub may_assign_admin: bool,
}

/// The user a valid row becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: String,
    pub email: String,
    pub role: Base,
}

/// Checks one row; an empty list means it can be imported.
pub fn check(row: &RowValues, around: &Surroundings) -> Vec<Issue> {
    match validated(row, around) {
        Ok(_) => Vec::new(),
        Err(issues) => issues,
    }
}

/// The user a row becomes, or every problem it has.
pub fn validated(row: &RowValues, around: &Surroundings) -> Result<ValidRow, Vec<Issue>> {
    let mut issues = Vec::new();
    for c in &around.formulas {
        issues.push(Issue::new(
            *c,
            "formula",
            format!(
                "The {} cell holds a formula; type the value itself (in Excel: Paste Special → Values)",
                c.header()
            ),
        ));
    }
    let text = |c: Column, max: usize, issues: &mut Vec<Issue>| -> Option<String> {
        match validate::optional_text(c.as_str(), Some(row.get(c)), max) {
            Ok(v) => v,
            Err(e) => {
                let code = if e.message.starts_with("must be at most") {
                    "too_long"
                } else {
                    "invalid"
                };
                issues.push(Issue::new(c, code, format!("{} {}", c.header(), e.message)));
                None
            }
        }
    };
    let mut first = text(Column::FirstName, NAME_MAX, &mut issues);
    let mut last = text(Column::LastName, NAME_MAX, &mut issues);
    let name = text(Column::Name, DISPLAY_NAME_MAX, &mut issues);
    if row.first_name.is_empty() && row.last_name.is_empty() && row.name.is_empty() {
        issues.push(Issue::new(
            Column::Name,
            "required",
            "Fill in at least one of FIRST NAME, LAST NAME or NAME",
        ));
    }
    // Only NAME given: its first word is the first name, the rest the last name, as most directories split.
    if first.is_none()
        && last.is_none()
        && let Some(n) = &name
    {
        let mut parts = n.splitn(2, char::is_whitespace);
        first = parts.next().map(str::to_string).filter(|s| !s.is_empty());
        last = parts
            .next()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
    }

    let email = if row.email.is_empty() {
        issues.push(Issue::new(Column::Email, "required", "EMAIL is required"));
        None
    } else {
        match validate::email("email", &row.email) {
            Ok(e) => Some(e),
            Err(e) => {
                let code = if e.message.starts_with("must be at most") {
                    "too_long"
                } else {
                    "invalid"
                };
                let message = if code == "invalid" {
                    "EMAIL is not a valid e-mail address".to_string()
                } else {
                    format!("EMAIL {}", e.message)
                };
                issues.push(Issue::new(Column::Email, code, message));
                None
            }
        }
    };
    if email.is_some() {
        if around.email_taken {
            issues.push(Issue::new(
                Column::Email,
                "exists",
                "A user of this account already has this EMAIL",
            ));
        } else if let Some(line) = around.repeats_line {
            issues.push(Issue::new(
                Column::Email,
                "duplicate",
                format!("This EMAIL is already in row {line}"),
            ));
        }
    }

    let role = match parse_role(&row.role) {
        Some(Base::AccountAdmin) if !around.may_assign_admin => {
            issues.push(Issue::new(
                Column::Role,
                "not_allowed",
                "You may not give the Account Admin role",
            ));
            None
        }
        Some(r) => Some(r),
        None => {
            issues.push(Issue::new(
                Column::Role,
                "role",
                "ROLE must be User or Account Admin (blank means User)",
            ));
            None
        }
    };

    match (email, role) {
        (Some(email), Some(role)) if issues.is_empty() => {
            let display_name = name.unwrap_or_else(|| {
                derived_display_name(
                    first.as_deref().unwrap_or(""),
                    last.as_deref().unwrap_or(""),
                )
            });
            Ok(ValidRow {
                first_name: first,
                last_name: last,
                display_name,
                email,
                role,
            })
        }
        _ => Err(issues),
    }
}

/// Whether `principal` may make imported users Account Admins of `target`: as for one user, it needs Roles
/// ASSIGN there and every right the role carries (nobody hands out more than they hold: a custom admin
/// role with roles.assign but not integrations.edit must not mint full Account Admins).
pub fn may_assign_admin(principal: &Principal, target: &AccountRef) -> bool {
    authorize(principal, target, Feature::Roles, Verb::Assign).is_ok()
        && principal.may_grant(Base::AccountAdmin, PermissionSet::full(Base::AccountAdmin))
}

/// `User`, `Account Admin` (any case, any spacing) or blank (a User).
pub fn parse_role(s: &str) -> Option<Base> {
    let words: Vec<String> = s.split_whitespace().map(str::to_lowercase).collect();
    match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["user"] => Some(Base::User),
        ["account", "admin"] | ["account", "administrator"] => Some(Base::AccountAdmin),
        _ => None,
    }
}

/// How a valid role is written back in the preview and exports.
pub fn role_label(b: Base) -> &'static str {
    match b {
        Base::AccountAdmin => "Account Admin",
        _ => "User",
    }
}

/// For each row (in order), the line of the first earlier row with the same e-mail key.
pub fn repeats<'a>(
    keyed: impl IntoIterator<Item = (usize, Option<&'a str>)>,
) -> Vec<Option<usize>> {
    let mut first_line: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    keyed
        .into_iter()
        .map(|(line, key)| {
            let key = key?;
            match first_line.get(key) {
                Some(l) => Some(*l),
                None => {
                    first_line.insert(key, line);
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(first: &str, last: &str, name: &str, email: &str, role: &str) -> RowValues {
        RowValues {
            first_name: first.into(),
            last_name: last.into(),
            name: name.into(),
            email: email.into(),
            role: role.into(),
        }
    }

    fn ok() -> Surroundings {
        Surroundings {
            may_assign_admin: true,
            ..Surroundings::default()
        }
    }

    fn codes(r: &RowValues, s: &Surroundings) -> Vec<(Column, String)> {
        check(r, s)
            .into_iter()
            .map(|i| (i.column, i.code))
            .collect()
    }

    #[test]
    fn a_full_row_becomes_a_user() {
        let v = validated(&row("Jane", "Doe", "", "Jane@Example.COM", ""), &ok()).unwrap();
        assert_eq!(v.display_name, "Jane Doe");
        assert_eq!(v.email, "Jane@example.com");
        assert_eq!(v.role, Base::User);
        let v = validated(
            &row("", "", "Ada Byron King", "a@b.io", "account  ADMIN"),
            &ok(),
        )
        .unwrap();
        assert_eq!(v.first_name.as_deref(), Some("Ada"));
        assert_eq!(v.last_name.as_deref(), Some("Byron King"));
        assert_eq!(v.display_name, "Ada Byron King");
        assert_eq!(v.role, Base::AccountAdmin);
    }

    #[test]
    fn each_rule_marks_its_cell() {
        assert_eq!(
            codes(&row("", "", "", "a@b.io", ""), &ok()),
            [(Column::Name, "required".to_string())]
        );
        assert_eq!(
            codes(&row("J", "", "", "", ""), &ok()),
            [(Column::Email, "required".to_string())]
        );
        assert_eq!(
            codes(&row("J", "", "", "not-an-address", "Boss"), &ok()),
            [
                (Column::Email, "invalid".to_string()),
                (Column::Role, "role".to_string())
            ]
        );
        assert_eq!(
            codes(&row(&"x".repeat(101), "", "", "a@b.io", ""), &ok()),
            [(Column::FirstName, "too_long".to_string())]
        );
        let taken = Surroundings {
            email_taken: true,
            ..ok()
        };
        assert_eq!(
            codes(&row("J", "", "", "a@b.io", ""), &taken),
            [(Column::Email, "exists".to_string())]
        );
        let repeated = Surroundings {
            repeats_line: Some(3),
            ..ok()
        };
        let issues = check(&row("J", "", "", "a@b.io", ""), &repeated);
        assert_eq!(issues[0].code, "duplicate");
        assert!(issues[0].message.contains("row 3"));
        let formula = Surroundings {
            formulas: vec![Column::Name],
            ..ok()
        };
        assert_eq!(
            codes(&row("J", "", "J D", "a@b.io", ""), &formula),
            [(Column::Name, "formula".to_string())]
        );
        let limited = Surroundings::default();
        assert_eq!(
            codes(&row("J", "", "", "a@b.io", "Account Admin"), &limited),
            [(Column::Role, "not_allowed".to_string())]
        );
    }

    #[test]
    fn repeats_point_at_the_first_row() {
        let got = repeats([
            (2, Some("a")),
            (3, Some("b")),
            (4, Some("a")),
            (5, None),
            (6, Some("a")),
        ]);
        assert_eq!(got, [None, None, Some(2), None, Some(2)]);
    }
}
