//! RFC 7644 §3.5.2 PATCH paths: `attrPath / valuePath [subAttr]`.

use crate::error::ScimError;
use crate::filter::parser::{Parser, is_attr_name};
use crate::filter::{Filter, MAX_FILTER_LEN};
use crate::schema::resolve::starts_with_ci;

/// A parsed PATCH path. `emails[type eq "work"].value` has `attr` "emails",
/// a filter and `sub_attr` "value"; `name.familyName` has `attr` "name" and
/// `sub_attr` "familyName". A path that is a bare schema URN
/// (`urn:…:enterprise:2.0:User`) names the whole extension: `urn` is that
/// URN and `attr` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub urn: Option<String>,
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

pub fn parse(input: &str) -> Result<PatchPath, ScimError> {
    let bad =
        |why: &str| ScimError::invalid_path(format!("invalid path \"{}\": {why}", shorten(input)));
    if input.len() > MAX_FILTER_LEN {
        return Err(bad(&format!("longer than {MAX_FILTER_LEN} bytes")));
    }
    let input = input.trim();
    if input.is_empty() {
        return Err(bad("empty"));
    }
    if is_schema_urn(input) {
        return Ok(PatchPath {
            urn: Some(input.to_string()),
            attr: String::new(),
            filter: None,
            sub_attr: None,
        });
    }
    let mut p = Parser::new(input);
    let head = p.attr_path().map_err(|e| bad(&e.detail))?;
    let mut path = PatchPath {
        urn: head.urn,
        attr: head.attr,
        filter: None,
        sub_attr: head.sub,
    };
    if p.at_end() {
        return Ok(path);
    }
    if path.sub_attr.is_some() {
        return Err(bad(
            "a value filter must follow the attribute, not its sub-attribute",
        ));
    }
    path.filter = Some(p.bracketed().map_err(|e| bad(&e.detail))?);
    let rest = input.get(p.pos()..).unwrap_or("");
    if rest.is_empty() {
        return Ok(path);
    }
    match rest.strip_prefix('.') {
        Some(sub) if is_attr_name(sub) => {
            path.sub_attr = Some(sub.to_string());
            Ok(path)
        }
        _ => Err(bad(&format!(
            "unexpected \"{}\" after \"]\"",
            shorten(rest)
        ))),
    }
}

/// A whole schema URN (`urn:…:2.0:User`), as opposed to one qualifying an
/// attribute (`urn:…:2.0:User:department`): its next-to-last segment is the
/// schema version.
fn is_schema_urn(s: &str) -> bool {
    if !starts_with_ci(s, "urn:") || s.contains('[') {
        return false;
    }
    let Some((prefix, last)) = s.rsplit_once(':') else {
        return false;
    };
    let version = prefix.rsplit(':').next().unwrap_or("");
    is_attr_name(last)
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
        && version.contains('.')
}

fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests;
