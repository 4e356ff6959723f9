//! Recursive descent over the RFC 7644 §3.4.2.2 grammar; `and` binds tighter
//! than `or`. Shared with PATCH paths, whose value filters use the same
//! grammar.

use serde_json::{Number, Value};

use super::{AttrPath, CompareOp, Filter, MAX_DEPTH};
use crate::error::ScimError;
use crate::schema::resolve::split_urn;

pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    in_brackets: bool,
}

type Result<T> = std::result::Result<T, ScimError>;

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$' | ':' | '.')
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            depth: 0,
            in_brackets: false,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn err(&self, what: impl std::fmt::Display) -> ScimError {
        ScimError::invalid_filter(format!("invalid filter at offset {}: {what}", self.pos))
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn bump(&mut self, c: char) {
        self.pos += c.len_utf8();
    }

    pub(crate) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump(c);
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.bump(c);
        }
    }

    /// Consumes `kw` (case-insensitively) if it is a whole word here.
    fn keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest();
        let Some(head) = rest.get(..kw.len()) else {
            return false;
        };
        if !head.eq_ignore_ascii_case(kw) {
            return false;
        }
        if rest[kw.len()..].chars().next().is_some_and(is_path_char) {
            return false;
        }
        self.pos += kw.len();
        true
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    pub(crate) fn parse_complete(mut self) -> Result<Filter> {
        let f = self.parse_or()?;
        self.skip_ws();
        if !self.at_end() {
            return Err(self.err("expected \"and\", \"or\" or the end of the filter"));
        }
        Ok(f)
    }

    pub(crate) fn parse_or(&mut self) -> Result<Filter> {
        let mut left = self.parse_and()?;
        loop {
            self.skip_ws();
            if !self.keyword("or") {
                return Ok(left);
            }
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn parse_and(&mut self) -> Result<Filter> {
        let mut left = self.parse_unary()?;
        loop {
            self.skip_ws();
            if !self.keyword("and") {
                return Ok(left);
            }
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn parse_unary(&mut self) -> Result<Filter> {
        self.skip_ws();
        self.enter()?;
        let f = if self.eat('(') {
            self.parenthesised()?
        } else if self.not_ahead() {
            self.skip_ws();
            self.eat('(');
            Filter::Not(Box::new(self.parenthesised()?))
        } else {
            self.attr_exp()?
        };
        self.depth -= 1;
        Ok(f)
    }

    /// `not` followed by `(`; an attribute called `not` stays an attribute.
    fn not_ahead(&mut self) -> bool {
        let start = self.pos;
        if self.keyword("not") {
            self.skip_ws();
            if self.peek() == Some('(') {
                return true;
            }
        }
        self.pos = start;
        false
    }

    fn parenthesised(&mut self) -> Result<Filter> {
        let f = self.parse_or()?;
        self.skip_ws();
        if !self.eat(')') {
            return Err(self.err("expected \")\""));
        }
        Ok(f)
    }

    fn attr_exp(&mut self) -> Result<Filter> {
        let path = self.attr_path()?;
        self.skip_ws();
        if self.peek() == Some('[') {
            return self.value_path(path);
        }
        self.comparison(path)
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter> {
        self.skip_ws();
        let start = self.pos;
        let word = self.word(|c| c.is_ascii_alphabetic());
        if word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present { path });
        }
        let Some(op) = CompareOp::parse(word) else {
            self.pos = start;
            return Err(self.err(format!(
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"{path}\""
            )));
        };
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn value_path(&mut self, attr: AttrPath) -> Result<Filter> {
        if self.in_brackets {
            return Err(self.err("value filters cannot be nested"));
        }
        if attr.sub.is_some() {
            return Err(self.err(format!("\"{attr}\" has a sub-attribute before \"[\"")));
        }
        let inner = self.bracketed()?;
        if !self.eat('.') {
            return Ok(Filter::ValuePath {
                attr,
                filter: Box::new(inner),
            });
        }
        let sub = self.word(is_path_char).to_string();
        if !is_attr_name(&sub) {
            return Err(self.err("expected a sub-attribute name after \"].\""));
        }
        let sub_path = AttrPath {
            urn: None,
            attr: sub,
            sub: None,
        };
        let cond = self.comparison(sub_path)?;
        let filter = Filter::And(Box::new(inner), Box::new(cond));
        Ok(Filter::ValuePath {
            attr,
            filter: Box::new(filter),
        })
    }

    /// `[valFilter]`, the opening bracket next.
    pub(crate) fn bracketed(&mut self) -> Result<Filter> {
        if !self.eat('[') {
            return Err(self.err("expected \"[\""));
        }
        self.enter()?;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        self.in_brackets = false;
        self.depth -= 1;
        self.skip_ws();
        if !self.eat(']') {
            return Err(self.err("expected \"]\""));
        }
        Ok(inner)
    }

    fn word(&mut self, accept: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| accept(*c)) {
            self.bump(c);
        }
        self.src.get(start..self.pos).unwrap_or("")
    }

    pub(crate) fn attr_path(&mut self) -> Result<AttrPath> {
        let start = self.pos;
        let word = self.word(is_path_char);
        if word.is_empty() {
            return Err(self.err("expected an attribute name"));
        }
        split_path(word).ok_or_else(|| {
            ScimError::invalid_filter(format!(
                "invalid filter at offset {start}: \"{word}\" is not an attribute path"
            ))
        })
    }

    fn value(&mut self) -> Result<Value> {
        self.skip_ws();
        if self.peek() == Some('"') {
            return self.string();
        }
        let word = self.word(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '[' | ']' | '"'));
        if word.is_empty() {
            return Err(self.err("expected a value"));
        }
        Ok(bare_value(word))
    }

    fn string(&mut self) -> Result<Value> {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => {
                    let raw = self.src.get(start..=i).unwrap_or("");
                    self.pos = i + 1;
                    return serde_json::from_str::<String>(raw)
                        .map(Value::String)
                        .map_err(|e| {
                            ScimError::invalid_filter(format!(
                                "invalid filter at offset {start}: bad string ({e})"
                            ))
                        });
                }
                _ => i += 1,
            }
        }
        Err(ScimError::invalid_filter(format!(
            "invalid filter at offset {start}: unterminated string"
        )))
    }
}

/// Entra's old examples send `externalId eq jyoung`: bare words are strings
/// unless they are JSON literals or numbers.
fn bare_value(word: &str) -> Value {
    if word.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if word.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if word.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if word.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        && let Ok(n) = serde_json::from_str::<Number>(word)
    {
        return Value::Number(n);
    }
    Value::String(word.to_string())
}

pub(crate) fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
}

/// `[urn:]attr[.sub]` → its parts, or `None` if malformed.
pub(crate) fn split_path(word: &str) -> Option<AttrPath> {
    let (urn, rest) = split_urn(word);
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if !is_attr_name(attr) || sub.is_some_and(|s| !is_attr_name(s)) {
        return None;
    }
    Some(AttrPath {
        urn: urn.map(str::to_string),
        attr: attr.to_string(),
        sub: sub.map(str::to_string),
    })
}
