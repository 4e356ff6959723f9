//! Name → attribute resolution shared by filters, PATCH paths, request
//! validation and projection. Names are case-insensitive (RFC 7643 §2.1),
//! may be URN-qualified, and Enterprise User attributes may be named bare
//! (Entra's `manager`, `department`).

use super::attr::{Attr, find};
use super::defs::COMMON;
use super::{EXTENSION_PREFIX, ResourceKind};

/// An attribute of a resource and the object it lives in: the top level, or
/// the extension object under `ext`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub ext: Option<&'static str>,
    pub attr: &'static Attr,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Resolution {
    /// An attribute clients may write (or the common `id`/`meta`, which are
    /// read-only and only matter to filters and projection).
    Found(Target),
    /// `schemas`.
    Schemas,
    /// An attribute of an extension we don't implement (Entra's custom
    /// attributes): silently ignored, never an error.
    Foreign,
    Unknown,
}

/// Splits `urn:…:User:name.givenName` into the URN and the rest; names
/// without a `urn:` prefix have no URN.
pub(crate) fn split_urn(name: &str) -> (Option<&str>, &str) {
    if !starts_with_ci(name, "urn:") {
        return (None, name);
    }
    match name.rfind(':') {
        Some(i) => (Some(&name[..i]), &name[i + 1..]),
        None => (None, name),
    }
}

pub(crate) fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// What a full schema URN names for `kind`: `Some(None)` for the core schema,
/// `Some(Some(urn))` for the extension, `None` otherwise.
pub(crate) fn schema_urn(kind: ResourceKind, urn: &str) -> Option<Option<&'static str>> {
    if urn.eq_ignore_ascii_case(kind.core_schema()) {
        return Some(None);
    }
    match kind.extension() {
        Some((ext, _)) if urn.eq_ignore_ascii_case(ext) => Some(Some(ext)),
        _ => None,
    }
}

pub(crate) fn is_foreign_extension(urn: &str) -> bool {
    starts_with_ci(urn, EXTENSION_PREFIX)
}

/// Resolves the attribute `name` (no dots) under the optional schema `urn`.
pub(crate) fn resolve(kind: ResourceKind, urn: Option<&str>, name: &str) -> Resolution {
    let found = |ext, attr| Resolution::Found(Target { ext, attr });
    match urn {
        Some(urn) => match schema_urn(kind, urn) {
            Some(None) => match find(COMMON, name).or_else(|| find(kind.core_attrs(), name)) {
                Some(a) => found(None, a),
                None => Resolution::Unknown,
            },
            Some(Some(ext)) => match kind.extension().and_then(|(_, attrs)| find(attrs, name)) {
                Some(a) => found(Some(ext), a),
                None => Resolution::Unknown,
            },
            None if is_foreign_extension(urn) => Resolution::Foreign,
            None => Resolution::Unknown,
        },
        None => {
            if name.eq_ignore_ascii_case("schemas") {
                return Resolution::Schemas;
            }
            if let Some(a) = find(COMMON, name).or_else(|| find(kind.core_attrs(), name)) {
                return found(None, a);
            }
            match kind.extension() {
                Some((ext, attrs)) => match find(attrs, name) {
                    Some(a) => found(Some(ext), a),
                    None => Resolution::Unknown,
                },
                None => Resolution::Unknown,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_USER;

    fn name_of(r: Resolution) -> Option<(Option<&'static str>, &'static str)> {
        match r {
            Resolution::Found(t) => Some((t.ext, t.attr.name)),
            _ => None,
        }
    }

    #[test]
    fn resolves_case_insensitively_and_bare_enterprise() {
        let u = ResourceKind::User;
        assert_eq!(
            name_of(resolve(u, None, "USERNAME")),
            Some((None, "userName"))
        );
        assert_eq!(
            name_of(resolve(u, None, "manager")),
            Some((Some(ENTERPRISE_USER), "manager"))
        );
        assert_eq!(
            name_of(resolve(
                u,
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
                "Department"
            )),
            Some((Some(ENTERPRISE_USER), "department"))
        );
        assert_eq!(
            name_of(resolve(
                u,
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "userName"
            )),
            Some((None, "userName"))
        );
        assert!(matches!(resolve(u, None, "password"), Resolution::Unknown));
        assert!(matches!(
            resolve(
                u,
                Some("urn:ietf:params:scim:schemas:extension:Custom:2.0:User"),
                "x"
            ),
            Resolution::Foreign
        ));
        assert!(matches!(
            resolve(ResourceKind::Group, None, "manager"),
            Resolution::Unknown
        ));
    }

    #[test]
    fn splits_urns() {
        assert_eq!(
            split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            (
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "manager.value"
            )
        );
        assert_eq!(split_urn("name.givenName"), (None, "name.givenName"));
        assert_eq!(split_urn("é"), (None, "é"));
    }
}
