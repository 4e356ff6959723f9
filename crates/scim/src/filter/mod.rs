//! RFC 7644 §3.4.2.2 filters: a hand-written recursive-descent parser that
//! refuses over-long and over-nested input instead of overflowing the stack,
//! and tolerates what Entra sends (unquoted values, `"True"` booleans,
//! `emails[type eq "work"].value eq "…"`).

mod equalities;
pub(crate) mod eval;
pub(crate) mod parser;

use std::fmt;

use serde_json::Value;

use crate::error::ScimError;
use crate::schema::ResourceKind;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 2048;

/// Deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_DEPTH: usize = 64;

/// An attribute path: `userName`, `name.familyName`, `meta.lastModified`,
/// `urn:…:enterprise:2.0:User:manager.value`. Names keep the client's case;
/// they are resolved case-insensitively when matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(word))
            .map(|(_, op)| *op)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `value` is a JSON string, number, boolean or null; bare words are strings.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present {
        path: AttrPath,
    },
    /// `attr[filter]`. `attr[filter].sub op value` is parsed as
    /// `attr[filter and sub op value]`: both say "one element satisfies all".
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// Parses a filter; every failure is an `invalidFilter` error naming where.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            input.len()
        )));
    }
    parser::Parser::new(input).parse_complete()
}

impl Filter {
    /// Whether the rendered wire-form resource (with `id`, `meta`, `schemas`
    /// and computed references) matches. Unknown attributes match nothing.
    pub fn matches(&self, kind: ResourceKind, resource: &Value) -> bool {
        eval::matches(self, kind, resource)
    }

    /// The `eq` comparisons with a string value reachable through top-level
    /// `and`s, as (canonical lower-case path, value as sent). Paths:
    /// `username`, `externalid`, `id`, `displayname`, `emails.value` (also
    /// from `emails[type eq "work"].value eq`), `manager` (however written).
    /// Values are as sent, not case-folded: `id` and `externalid` compare
    /// exactly, the others case-insensitively (their `caseExact`). Candidates
    /// only: the caller still runs [`Filter::matches`].
    pub fn equalities(&self) -> Vec<(String, String)> {
        equalities::collect(self)
    }
}

#[cfg(test)]
mod tests;
