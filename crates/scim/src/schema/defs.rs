//! What Skybridge stores and advertises: the User, Enterprise User and Group
//! attributes (RFC 7643 §4, §8.7.1), cut down to what the platform keeps.

use super::attr::Attr;

const WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

// Used by the id/meta common attributes (RFC 7643 §3.1), which are not
// advertised in any schema (Microsoft's validator rejects `id` there) but
// can still be filtered on and projected.
pub(crate) static COMMON: &[Attr] = &[
    Attr::string(
        "id",
        "Unique identifier for the SCIM resource as defined by the service provider.",
    )
    .case_exact()
    .read_only()
    .always()
    .unique(),
    Attr::complex(
        "meta",
        META_SUB,
        "A complex attribute containing resource metadata.",
    )
    .read_only(),
];

static META_SUB: &[Attr] = &[
    Attr::string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    Attr::date_time(
        "created",
        "The DateTime that the resource was added to the service provider.",
    )
    .read_only(),
    Attr::date_time(
        "lastModified",
        "The most recent DateTime that the details of this resource were updated.",
    )
    .read_only(),
    Attr::reference(
        "location",
        &["uri"],
        "The URI of the resource being returned.",
    )
    .read_only(),
    Attr::string("version", "The version of the resource being returned.")
        .case_exact()
        .read_only(),
];

const EXTERNAL_ID: Attr = Attr::string(
    "externalId",
    "A String that is an identifier for the resource as defined by the provisioning client.",
)
.case_exact();

pub(crate) static USER: &[Attr] = &[
    Attr::string("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
        .required()
        .unique(),
    Attr::complex("name", NAME_SUB, "The components of the user's real name."),
    Attr::string("displayName", "The name of the User, suitable for display to end-users."),
    Attr::string("nickName", "The casual way to address the user in real life."),
    Attr::string("title", "The user's title, such as \"Vice President\"."),
    Attr::string("preferredLanguage", "Indicates the User's preferred written or spoken language, e.g. \"en-US\"."),
    Attr::boolean("active", "A Boolean value indicating the User's administrative status."),
    // Required: a platform user signs in and is notified by e-mail.
    Attr::complex("emails", EMAIL_SUB, "Email addresses for the user.").multi().required(),
    Attr::complex("phoneNumbers", PHONE_SUB, "Phone numbers for the User; work and mobile numbers in E.164 form (e.g. +16135922122), others as given.")
        .multi(),
    Attr::complex("addresses", ADDRESS_SUB, "A physical mailing address for this User.").multi(),
    Attr::complex("roles", ROLE_SUB, "A list of roles for the User.").multi(),
    EXTERNAL_ID,
];

static NAME_SUB: &[Attr] = &[
    Attr::string(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display.",
    ),
    Attr::string("familyName", "The family name of the User, or last name."),
    Attr::string("givenName", "The given name of the User, or first name."),
    Attr::string("middleName", "The middle name(s) of the User."),
    Attr::string(
        "honorificPrefix",
        "The honorific prefix(es) of the User, or title, e.g. \"Ms.\".",
    ),
    Attr::string(
        "honorificSuffix",
        "The honorific suffix(es) of the User, or suffix, e.g. \"III\".",
    ),
];

// `value` is required inside an entry: an e-mail entry without an address
// means nothing, and it makes clients that fill only required attributes
// (scim2-tester) send one.
static EMAIL_SUB: &[Attr] = &[
    Attr::string("value", "Email address for the User.").required(),
    Attr::string(
        "type",
        "A label indicating the attribute's function, e.g. \"work\" or \"home\".",
    )
    .canonical(WORK_HOME_OTHER),
    Attr::boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

static PHONE_SUB: &[Attr] = &[
    Attr::string(
        "value",
        "Phone number of the User, in E.164 form: a + and 7 to 15 digits, e.g. +16135922122.",
    )
    .required(),
    Attr::string(
        "type",
        "A label indicating the attribute's function, e.g. \"work\" or \"mobile\".",
    )
    .canonical(&["work", "mobile", "other", "fax"]),
    Attr::boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

static ADDRESS_SUB: &[Attr] = &[
    Attr::string(
        "formatted",
        "The full mailing address, formatted for display or use with a mailing label.",
    ),
    Attr::string("streetAddress", "The full street address component."),
    Attr::string("locality", "The city or locality component."),
    Attr::string("region", "The state or region component."),
    Attr::string("postalCode", "The zip code or postal code component."),
    Attr::string("country", "The country name component."),
    Attr::string(
        "type",
        "A label indicating the attribute's function, e.g. \"work\" or \"home\".",
    )
    .canonical(WORK_HOME_OTHER),
    Attr::boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

static ROLE_SUB: &[Attr] = &[
    Attr::string("value", "The value of a role.").required(),
    Attr::string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    Attr::string("type", "A label indicating the role's function."),
    Attr::boolean(
        "primary",
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.",
    ),
];

pub(crate) static ENTERPRISE: &[Attr] = &[
    Attr::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    Attr::string("costCenter", "Identifies the name of a cost center."),
    Attr::string("organization", "Identifies the name of an organization."),
    Attr::string("division", "Identifies the name of a division."),
    Attr::string("department", "Identifies the name of a department."),
    Attr::complex("manager", MANAGER_SUB, "The User's manager."),
];

// `$ref` is readWrite (as in RFC 7643 §8.7.1) so clients may send it, but
// the server derives it from `value` and never stores what was sent.
static MANAGER_SUB: &[Attr] = &[
    Attr::string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    Attr::reference(
        "$ref",
        &["User"],
        "The URI of the SCIM resource representing the User's manager.",
    ),
    Attr::string("displayName", "The displayName of the User's manager.").read_only(),
];

pub(crate) static GROUP: &[Attr] = &[
    Attr::string("displayName", "A human-readable name for the Group.").required(),
    Attr::complex("members", MEMBER_SUB, "A list of members of the Group.").multi(),
    EXTERNAL_ID,
];

static MEMBER_SUB: &[Attr] = &[
    Attr::string("value", "Identifier of the member of this Group.").immutable(),
    Attr::reference(
        "$ref",
        &["User"],
        "The URI corresponding to a SCIM resource that is a member of this Group.",
    )
    .immutable(),
    Attr::string("display", "A human-readable name for the member.").read_only(),
    Attr::string("type", "The type of the member: only Users are members.")
        .read_only()
        .canonical(&["User"]),
];
