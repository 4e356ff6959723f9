//! Parse-don't-validate constructors for the text people type: e-mail addresses, E.164 numbers, names.
//! Each returns the normalised value or a [`ValidationError`] naming the field and the broken rule.

use crate::ValidationError;

/// RFC 5321 caps a forward path at 256 octets including the angle brackets.
pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const DISPLAY_NAME_MAX: usize = 200;
pub const ADDRESS_MAX: usize = 200;
pub const POSTAL_CODE_MAX: usize = 20;
pub const SHORT_TEXT_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 1000;
pub const EXTENSION_MAX: usize = 16;

/// The message the console shows for a bad support-contact address; we use it for every e-mail field.
pub const INVALID_EMAIL: &str = "Contains an invalid email";

/// A syntactically valid address, trimmed, with the domain lower-cased. Quoted local parts and IP-literal
/// domains are refused: they are legal but no mail system a customer runs hands them out, and they are a
/// common way to smuggle odd characters into logs and CSV exports.
pub fn email(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    if s.chars().count() > EMAIL_MAX {
        return Err(ValidationError::new(
            field,
            format!("must be at most {EMAIL_MAX} characters"),
        ));
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(ValidationError::new(field, INVALID_EMAIL));
    };
    let plain_local = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let plain_domain = domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !plain_local || !plain_domain || !email_address::EmailAddress::is_valid(s) {
        return Err(ValidationError::new(field, INVALID_EMAIL));
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// The key under which e-mails are unique within an account: the whole address lower-cased.
pub fn email_key(normalised: &str) -> String {
    normalised.to_lowercase()
}

/// An E.164 number ("+" then country code and subscriber number), checked against libphonenumber's metadata
/// and returned in canonical form.
pub fn e164(field: &str, raw: &str) -> Result<String, ValidationError> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let bad = || ValidationError::new(field, "must be an E.164 number such as +14155550123");
    if !compact.starts_with('+') || compact.len() < 3 || compact.len() > 16 {
        return Err(bad());
    }
    if !compact[1..].chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let parsed = phonenumber::parse(None, &compact).map_err(|_| bad())?;
    if !phonenumber::is_valid(&parsed) {
        return Err(ValidationError::new(
            field,
            "is not a valid phone number for its country code",
        ));
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// A required single-line text: trimmed, non-empty, at most `max` characters, no control characters.
pub fn required_text(field: &str, raw: &str, max: usize) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(ValidationError::new(field, "is required"));
    }
    line(field, s, max)
}

/// An optional single-line text: blank becomes `None`.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => line(field, s, max).map(Some),
    }
}

fn line(field: &str, s: &str, max: usize) -> Result<String, ValidationError> {
    if s.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_string())
}

/// Whether `c` may not be stored in text: NUL (PostgreSQL cannot store it in text columns, and C strings,
/// CSV readers and logs end at it), the other C0 controls and DEL. `multiline` text (descriptions, notes)
/// may hold tab, CR and LF. Single-line fields are held to the stricter [`required_text`] on top.
pub fn is_forbidden_control(c: char, multiline: bool) -> bool {
    (c < ' ' && !(multiline && matches!(c, '\t' | '\r' | '\n'))) || c == '\u{7f}'
}

/// The first character of `s` that [`is_forbidden_control`] refuses.
pub fn forbidden_control(s: &str, multiline: bool) -> Option<char> {
    s.chars().find(|&c| is_forbidden_control(c, multiline))
}

/// `s` as text that may be stored: refused with the offending character named (`U+0000`) when it holds one
/// [`is_forbidden_control`] refuses.
pub fn storable(field: &str, s: &str, multiline: bool) -> Result<(), ValidationError> {
    match forbidden_control(s, multiline) {
        None => Ok(()),
        Some(c) => Err(ValidationError::new(
            field,
            format!(
                "must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        )),
    }
}

/// A PBX extension: digits, optionally with `*` or `#`, up to [`EXTENSION_MAX`].
pub fn extension(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    if s.is_empty()
        || s.len() > EXTENSION_MAX
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
    {
        return Err(ValidationError::new(
            field,
            format!("must be 1 to {EXTENSION_MAX} digits (with optional * or #)"),
        ));
    }
    Ok(s.to_string())
}

/// A two-letter ISO 3166-1 alpha-2 country code, upper-cased.
pub fn country(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim().to_ascii_uppercase();
    if s.len() != 2 || !s.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ValidationError::new(
            field,
            "must be a two-letter ISO 3166 country code such as US",
        ));
    }
    Ok(s)
}

/// A BCP 47 language tag of the simple kind the console offers ("en-US", "fr", "de-DE").
pub fn language(field: &str, raw: &str) -> Result<String, ValidationError> {
    let s = raw.trim();
    let mut parts = s.split('-');
    let lang_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if !lang_ok || !rest_ok {
        return Err(ValidationError::new(
            field,
            "must be a language tag such as en-US",
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Jane.Doe@Example.COM ").unwrap(),
            "Jane.Doe@example.com"
        );
        for bad in [
            "",
            "plain",
            "a@b",
            "a@@b.com",
            "a@b..com",
            ".a@b.com",
            "a b@c.com",
            "\"q\"@b.com",
            "a@[1.2.3.4]",
            "a@b.c0m",
            "a@-b.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(
            email("email", &long)
                .unwrap_err()
                .message
                .contains("at most 254")
        );
        assert_eq!(email_key("Jane.Doe@example.com"), "jane.doe@example.com");
    }

    #[test]
    fn phones() {
        assert_eq!(e164("mobile", "+1 (415) 555-0123").unwrap(), "+14155550123");
        assert_eq!(e164("mobile", "+442079460018").unwrap(), "+442079460018");
        for bad in [
            "",
            "4155550123",
            "+",
            "+0123",
            "+1abc",
            "+1999",
            "+12345678901234567",
        ] {
            assert!(e164("mobile", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn control_characters() {
        for c in ['\u{0}', '\u{1}', '\u{1b}', '\u{1f}', '\u{7f}'] {
            assert!(is_forbidden_control(c, true), "{c:?}");
            assert!(is_forbidden_control(c, false), "{c:?}");
        }
        for c in ['\t', '\r', '\n'] {
            assert!(!is_forbidden_control(c, true), "{c:?}");
            assert!(is_forbidden_control(c, false), "{c:?}");
        }
        for c in [' ', 'a', '~', '\u{80}', 'é', '€'] {
            assert!(!is_forbidden_control(c, false), "{c:?}");
        }
        assert_eq!(
            storable("q", "a\u{0}b", true).unwrap_err().message,
            "must not contain control characters (found U+0000)"
        );
        assert!(storable("notes", "line one\r\nline two\tend", true).is_ok());
        assert!(storable("name", "line one\nline two", false).is_err());
    }

    #[test]
    fn texts() {
        assert_eq!(required_text("name", "  Acme ", 10).unwrap(), "Acme");
        assert!(
            required_text("name", "   ", 10)
                .unwrap_err()
                .message
                .contains("required")
        );
        assert!(
            required_text("name", "abcdefghijk", 10)
                .unwrap_err()
                .message
                .contains("at most 10")
        );
        assert!(required_text("name", "a\u{0}b", 10).is_err());
        assert_eq!(optional_text("x", Some(" "), 10).unwrap(), None);
        assert_eq!(extension("ext", "1234#").unwrap(), "1234#");
        assert!(extension("ext", "12a").is_err());
        assert_eq!(country("country", "ca").unwrap(), "CA");
        assert!(country("country", "CAN").is_err());
        assert!(language("lang", "en-US").is_ok());
        assert!(language("lang", "english").is_err());
    }

    proptest! {
        #[test]
        fn email_accepts_generated_addresses(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z][a-z0-9-]{0,10}[a-z0-9]", tld in "[a-z]{2,6}") {
            prop_assume!(!local.contains(".."));
            let addr = format!("{local}@{domain}.{tld}");
            let parsed = email("email", &addr).unwrap();
            prop_assert_eq!(parsed, addr);
        }

        #[test]
        fn email_never_panics_and_is_idempotent(s in "\\PC{0,80}") {
            if let Ok(ok) = email("email", &s) {
                prop_assert_eq!(email("email", &ok).unwrap(), ok.clone());
                prop_assert!(ok.chars().count() <= EMAIL_MAX);
            }
        }

        #[test]
        fn e164_output_is_canonical(s in "\\+?[0-9 ()-]{0,20}") {
            if let Ok(ok) = e164("mobile", &s) {
                prop_assert!(ok.starts_with('+'));
                prop_assert!(ok[1..].chars().all(|c| c.is_ascii_digit()));
                prop_assert!(ok.len() <= 16);
                prop_assert_eq!(e164("mobile", &ok).unwrap(), ok.clone());
            }
        }

        #[test]
        fn text_limits_hold(s in "\\PC{0,150}") {
            match required_text("name", &s, NAME_MAX) {
                Ok(ok) => {
                    prop_assert!(!ok.is_empty());
                    prop_assert!(ok.chars().count() <= NAME_MAX);
                    prop_assert!(!ok.chars().any(char::is_control));
                }
                Err(e) => prop_assert_eq!(e.field, "name"),
            }
        }
    }
}
