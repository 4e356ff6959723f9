//! The RFC 7643 §8.7.2 schemas describing Schema, ResourceType and
//! ServiceProviderConfig themselves: strict clients (scim2-tester) require
//! them in `/Schemas`.

use super::attr::Attr;

static ATTR_TYPES: &[&str] = &[
    "string",
    "complex",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "reference",
    "binary",
];
static MUTABILITIES: &[&str] = &["readOnly", "readWrite", "immutable", "writeOnly"];
static RETURNED: &[&str] = &["always", "never", "default", "request"];
static UNIQUENESS: &[&str] = &["none", "server", "global"];

const fn ro(a: Attr) -> Attr {
    a.read_only()
}

pub(crate) static SCHEMA: &[Attr] = &[
    ro(Attr::string("id", "The unique URI of the schema.").required()),
    ro(Attr::string("name", "The schema's human-readable name.").required()),
    ro(Attr::string(
        "description",
        "The schema's human-readable description.",
    )),
    ro(Attr::complex(
        "attributes",
        ATTRIBUTE_SUB,
        "A complex attribute that includes the attributes of a schema.",
    )
    .multi()
    .required()),
];

static ATTRIBUTE_SUB: &[Attr] = &[
    ro(Attr::string("name", "The attribute's name.")
        .required()
        .case_exact()),
    ro(Attr::string("type", "The attribute's data type.")
        .required()
        .canonical(ATTR_TYPES)),
    ro(Attr::boolean(
        "multiValued",
        "A Boolean value indicating an attribute's plurality.",
    )
    .required()),
    ro(Attr::string(
        "description",
        "A human-readable description of the attribute.",
    )),
    ro(Attr::boolean(
        "required",
        "A Boolean value indicating whether or not a value is required.",
    )),
    ro(Attr::string("canonicalValues", "A collection of canonical values.").multi()),
    ro(Attr::boolean(
        "caseExact",
        "A Boolean value indicating whether or not a string attribute is case sensitive.",
    )),
    ro(Attr::string(
        "mutability",
        "Indicates whether or not an attribute is modifiable.",
    )
    .canonical(MUTABILITIES)),
    ro(Attr::string(
        "returned",
        "Indicates when an attribute is returned in a response.",
    )
    .canonical(RETURNED)),
    ro(Attr::string("uniqueness", "Indicates how unique a value must be.").canonical(UNIQUENESS)),
    ro(Attr::string(
        "referenceTypes",
        "Used only with an attribute of type 'reference'.",
    )
    .multi()),
    ro(Attr::complex(
        "subAttributes",
        SUB_ATTRIBUTE_SUB,
        "Used to define the sub-attributes of a complex attribute.",
    )
    .multi()),
];

static SUB_ATTRIBUTE_SUB: &[Attr] = &[
    ro(Attr::string("name", "The attribute's name.")
        .required()
        .case_exact()),
    ro(Attr::string("type", "The attribute's data type.")
        .required()
        .canonical(ATTR_TYPES)),
    ro(Attr::boolean(
        "multiValued",
        "A Boolean value indicating an attribute's plurality.",
    )
    .required()),
    ro(Attr::string(
        "description",
        "A human-readable description of the attribute.",
    )),
    ro(Attr::boolean(
        "required",
        "A Boolean value indicating whether or not a value is required.",
    )),
    ro(Attr::string("canonicalValues", "A collection of canonical values.").multi()),
    ro(Attr::boolean(
        "caseExact",
        "A Boolean value indicating whether or not a string attribute is case sensitive.",
    )),
    ro(Attr::string(
        "mutability",
        "Indicates whether or not an attribute is modifiable.",
    )
    .canonical(MUTABILITIES)),
    ro(Attr::string(
        "returned",
        "Indicates when an attribute is returned in a response.",
    )
    .canonical(RETURNED)),
    ro(Attr::string("uniqueness", "Indicates how unique a value must be.").canonical(UNIQUENESS)),
    ro(Attr::string(
        "referenceTypes",
        "Used only with an attribute of type 'reference'.",
    )
    .multi()),
];

pub(crate) static RESOURCE_TYPE: &[Attr] = &[
    ro(Attr::string("id", "The resource type's server unique id.")),
    ro(Attr::string("name", "The resource type name.").required()),
    ro(Attr::string(
        "description",
        "The resource type's human-readable description.",
    )),
    ro(Attr::reference(
        "endpoint",
        &["uri"],
        "The resource type's HTTP-addressable endpoint relative to the Base URL.",
    )
    .required()),
    ro(Attr::reference(
        "schema",
        &["uri"],
        "The resource type's primary/base schema URI.",
    )
    .required()),
    ro(Attr::complex(
        "schemaExtensions",
        SCHEMA_EXTENSION_SUB,
        "A list of URIs of the resource type's schema extensions.",
    )
    .multi()),
];

static SCHEMA_EXTENSION_SUB: &[Attr] = &[
    ro(Attr::reference("schema", &["uri"], "The URI of an extended schema.").required()),
    ro(Attr::boolean(
        "required",
        "Whether resources of this type must include the schema extension.",
    )
    .required()),
];

pub(crate) static SERVICE_PROVIDER_CONFIG: &[Attr] = &[
    ro(Attr::reference(
        "documentationUri",
        &["external"],
        "An HTTP-addressable URL pointing to the service provider's human-consumable help documentation.",
    )),
    ro(Attr::complex(
        "patch",
        SUPPORTED,
        "A complex type that specifies PATCH configuration options.",
    )
    .required()),
    ro(Attr::complex(
        "bulk",
        BULK_SUB,
        "A complex type that specifies bulk configuration options.",
    )
    .required()),
    ro(Attr::complex(
        "filter",
        FILTER_SUB,
        "A complex type that specifies FILTER options.",
    )
    .required()),
    ro(Attr::complex(
        "changePassword",
        SUPPORTED,
        "A complex type that specifies configuration options related to changing a password.",
    )
    .required()),
    ro(Attr::complex(
        "sort",
        SUPPORTED,
        "A complex type that specifies sort result options.",
    )
    .required()),
    ro(Attr::complex(
        "etag",
        SUPPORTED,
        "A complex type that specifies ETag configuration options.",
    )
    .required()),
    ro(Attr::complex(
        "authenticationSchemes",
        AUTH_SCHEME_SUB,
        "A complex type that specifies supported authentication scheme properties.",
    )
    .multi()
    .required()),
];

static SUPPORTED: &[Attr] = &[ro(Attr::boolean(
    "supported",
    "A Boolean value specifying whether or not the operation is supported.",
)
.required())];

static BULK_SUB: &[Attr] = &[
    ro(Attr::boolean(
        "supported",
        "A Boolean value specifying whether or not the operation is supported.",
    )
    .required()),
    ro(Attr::integer(
        "maxOperations",
        "An integer value specifying the maximum number of operations.",
    )
    .required()),
    ro(Attr::integer(
        "maxPayloadSize",
        "An integer value specifying the maximum payload size in bytes.",
    )
    .required()),
];

static FILTER_SUB: &[Attr] = &[
    ro(Attr::boolean(
        "supported",
        "A Boolean value specifying whether or not the operation is supported.",
    )
    .required()),
    ro(Attr::integer(
        "maxResults",
        "An integer value specifying the maximum number of resources returned in a response.",
    )
    .required()),
];

static AUTH_SCHEME_SUB: &[Attr] = &[
    ro(Attr::string("type", "The authentication scheme.").required()),
    ro(Attr::string(
        "name",
        "The common authentication scheme name, e.g., HTTP Basic.",
    )
    .required()),
    ro(Attr::string("description", "A description of the authentication scheme.").required()),
    ro(Attr::reference(
        "specUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's specification.",
    )),
    ro(Attr::reference(
        "documentationUri",
        &["external"],
        "An HTTP-addressable URL pointing to the authentication scheme's usage documentation.",
    )),
    ro(Attr::boolean(
        "primary",
        "Whether this is the preferred authentication scheme.",
    )),
];
