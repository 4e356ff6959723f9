//! The attribute-definition model of RFC 7643 §7, as static tables.
//!
//! One table drives discovery output, request validation, filtering and
//! projection, so what `/Schemas` advertises is exactly what the crate accepts.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    String,
    Boolean,
    Integer,
    DateTime,
    Reference,
    Complex,
}

impl Type {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Integer => "integer",
            Type::DateTime => "dateTime",
            Type::Reference => "reference",
            Type::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
}

impl Mutability {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returned {
    Always,
    Default,
}

impl Returned {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Default => "default",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Uniqueness {
    None,
    Server,
}

impl Uniqueness {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Attr {
    pub name: &'static str,
    pub ty: Type,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical: &'static [&'static str],
    pub ref_types: &'static [&'static str],
    pub sub: &'static [Attr],
    pub description: &'static str,
}

impl Attr {
    const fn new(name: &'static str, ty: Type, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical: &[],
            ref_types: &[],
            sub: &[],
            description,
        }
    }

    pub(crate) const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, Type::String, description)
    }

    pub(crate) const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, Type::Boolean, description)
    }

    pub(crate) const fn integer(name: &'static str, description: &'static str) -> Self {
        Self::new(name, Type::Integer, description)
    }

    pub(crate) const fn date_time(name: &'static str, description: &'static str) -> Self {
        Self::new(name, Type::DateTime, description)
    }

    pub(crate) const fn reference(
        name: &'static str,
        ref_types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        // RFC 7643 §2.3.7: references are case-exact URIs.
        Self {
            ref_types,
            case_exact: true,
            ..Self::new(name, Type::Reference, description)
        }
    }

    pub(crate) const fn complex(
        name: &'static str,
        sub: &'static [Attr],
        description: &'static str,
    ) -> Self {
        Self {
            sub,
            ..Self::new(name, Type::Complex, description)
        }
    }

    pub(crate) const fn multi(self) -> Self {
        Self {
            multi: true,
            ..self
        }
    }

    pub(crate) const fn required(self) -> Self {
        Self {
            required: true,
            ..self
        }
    }

    pub(crate) const fn case_exact(self) -> Self {
        Self {
            case_exact: true,
            ..self
        }
    }

    pub(crate) const fn read_only(self) -> Self {
        Self {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }

    pub(crate) const fn immutable(self) -> Self {
        Self {
            mutability: Mutability::Immutable,
            ..self
        }
    }

    pub(crate) const fn always(self) -> Self {
        Self {
            returned: Returned::Always,
            ..self
        }
    }

    pub(crate) const fn unique(self) -> Self {
        Self {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }

    pub(crate) const fn canonical(self, canonical: &'static [&'static str]) -> Self {
        Self { canonical, ..self }
    }

    /// The sub-attribute named `name`, case-insensitively (RFC 7643 §2.1).
    pub(crate) fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        find(self.sub, name)
    }

    /// Whether the server, not the client, decides this sub-attribute's value,
    /// so a document never stores it.
    pub(crate) fn is_computed(&self) -> bool {
        self.mutability == Mutability::ReadOnly || self.name == "$ref"
    }
}

/// The attribute named `name` in `attrs`, case-insensitively.
pub(crate) fn find(attrs: &'static [Attr], name: &str) -> Option<&'static Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}
