use serde_json::{Value, json};

use super::*;
use crate::schema::{ENTERPRISE_USER, GROUP, USER};

fn user(input: Value) -> Value {
    match normalize(ResourceKind::User, &input) {
        Ok(d) => d,
        Err(e) => panic!("{input}: {e}"),
    }
}

#[test]
fn entra_create_user() {
    let doc = user(json!({
        "schemas": [USER, ENTERPRISE_USER],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    }));
    assert_eq!(
        doc,
        json!({
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb11bb@testuser.com"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
        })
    );
}

#[test]
fn entra_old_create_with_nulls_and_malformed_urn() {
    let doc = user(json!({
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true, "addresses": null,
        "displayName": "Joy Young",
        "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
        "meta": {"resourceType": "User"}, "name": {"familyName": "Young", "givenName": "Joy"},
        "phoneNumbers": null, "preferredLanguage": null, "title": null, "department": null, "manager": null
    }));
    assert_eq!(
        doc,
        json!({
            "externalId": "jyoung", "userName": "jyoung@testuser.com", "active": true, "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
            "name": {"familyName": "Young", "givenName": "Joy"}
        })
    );
}

#[test]
fn enterprise_attributes_in_every_shape() {
    let want =
        json!({"department": "Retail", "employeeNumber": "701984", "manager": {"value": "m1"}});
    let base = || json!({"userName": "u", "emails": [{"value": "u@x.io"}]});
    let shapes = [
        json!({ENTERPRISE_USER: {"schemas": [ENTERPRISE_USER], "department": "Retail", "employeeNumber": "701984", "manager": {"value": "m1", "$ref": "../Users/m1", "displayName": "M"}}}),
        json!({
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Retail",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "m1"
        }),
        json!({"department": "Retail", "EmployeeNumber": "701984", "manager": [{"value": "m1"}]}),
        json!({ENTERPRISE_USER: {"department": "Retail", "employeeNumber": "701984", "manager": {"$ref": "https://h/scim/v2/a/Users/m1"}}}),
    ];
    for shape in shapes {
        let mut input = base();
        input
            .as_object_mut()
            .unwrap()
            .extend(shape.as_object().unwrap().clone());
        assert_eq!(user(input.clone())[ENTERPRISE_USER], want, "{input}");
    }
}

#[test]
fn tolerances() {
    // Q18 names in any case, Q2 string booleans, single objects for arrays.
    let doc = user(json!({
        "UserName": "u", "ACTIVE": "False",
        "Emails": {"Value": "u@x.io", "Type": "work", "Primary": "TRUE"},
        "phonenumbers": [{"value": "+16135922122", "type": "mobile", "primary": "false"}],
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute": "ignored",
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"x": 1},
        "groups": null
    }));
    assert_eq!(
        doc,
        json!({
            "userName": "u", "active": false,
            "emails": [{"value": "u@x.io", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+16135922122", "type": "mobile", "primary": false}]
        })
    );
    // Q10 JSON-encoded role; identical entries collapse.
    let doc = user(json!({
        "userName": "u", "emails": [{"value": "u@x.io"}, {"value": "u@x.io"}],
        "roles": [
            {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"},
            {"value": "{\"id\":\"06b07648\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}
        ]
    }));
    assert_eq!(doc["emails"], json!([{"value": "u@x.io"}]));
    assert_eq!(
        doc["roles"],
        json!([{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}, {"value": "25", "display": "Role1234"}])
    );
}

#[test]
fn values_are_kept_as_sent() {
    let doc = user(
        json!({"userName": "  Mixed Case  ", "emails": [{"value": "A@B.C"}], "phoneNumbers": [{"value": "+16135922122"}]}),
    );
    assert_eq!(doc["userName"], "  Mixed Case  ");
    assert_eq!(doc["emails"][0]["value"], "A@B.C");
    assert_eq!(doc["phoneNumbers"][0]["value"], "+16135922122");
}

#[test]
fn normalize_errors() {
    let ok = || json!({"userName": "u", "emails": [{"value": "u@x.io"}]});
    let with = |k: &str, v: Value| {
        let mut o = ok();
        o[k] = v;
        o
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "invalidSyntax", "JSON object"),
        (json!("x"), "invalidSyntax", "JSON object"),
        (
            json!({"emails": [{"value": "u@x.io"}]}),
            "invalidValue",
            "userName is required",
        ),
        (
            with("userName", json!("  ")),
            "invalidValue",
            "userName is required",
        ),
        (
            with("userName", json!(5)),
            "invalidValue",
            "userName must be a string",
        ),
        (
            with("title", json!(5)),
            "invalidValue",
            "title must be a string, not a number",
        ),
        (
            with("active", json!("yes")),
            "invalidValue",
            "active must be a boolean",
        ),
        (
            with("name", json!("Bob")),
            "invalidValue",
            "name must be an object",
        ),
        (
            with("name", json!({"nick": "x"})),
            "invalidValue",
            "unknown attribute \"name.nick\"",
        ),
        (
            with("foo", json!("x")),
            "invalidValue",
            "unknown attribute \"foo\"",
        ),
        (
            with("password", json!("x")),
            "invalidValue",
            "unknown attribute \"password\"",
        ),
        (
            with("urn:example:other:attr", json!("x")),
            "invalidValue",
            "unknown attribute",
        ),
        (
            with("emails", json!([])),
            "invalidValue",
            "emails is required",
        ),
        (
            with("emails", json!([{"type": "work"}])),
            "invalidValue",
            "emails[type eq \"work\"] has no value",
        ),
        (
            with("emails", json!([{"value": "nope"}])),
            "invalidValue",
            "emails.value \"nope\" is not an e-mail address",
        ),
        (
            with(
                "emails",
                json!([{"value": "a@b"}, {"value": "c@d", "primary": true}, {"value": "e@f", "primary": "True"}]),
            ),
            "invalidValue",
            "at most one may be primary",
        ),
        (
            with(
                "phoneNumbers",
                json!([{"value": "12345", "type": "mobile"}]),
            ),
            "invalidValue",
            "phoneNumbers[type eq \"mobile\"].value \"12345\" is not an E.164 number (a + and 7 to 15 digits, e.g. +16135922122)",
        ),
        (
            with(
                "phoneNumbers",
                json!([{"value": "+16135922122", "type": "work"}, {"value": "+16135922123", "type": "work"}]),
            ),
            "invalidValue",
            "phoneNumbers has two entries of type \"work\"",
        ),
        (
            with(
                "emails",
                json!([{"value": "a@b", "type": "work"}, {"value": "c@d", "type": "Work"}]),
            ),
            "invalidValue",
            "emails has two entries of type \"Work\"",
        ),
        (
            with("phoneNumbers", json!([{"value": 6135922122_i64}])),
            "invalidValue",
            "phoneNumbers.value must be a string",
        ),
        (
            with("emails", json!(["ok@x", 5])),
            "invalidValue",
            "emails must be an object",
        ),
        (
            with("displayName", json!(["a", "b"])),
            "invalidValue",
            "displayName is single-valued",
        ),
        (
            with(ENTERPRISE_USER, json!("x")),
            "invalidValue",
            "must be an object of attributes",
        ),
        (
            with("roles", json!([{"display": "x"}])),
            "invalidValue",
            "roles has no value",
        ),
    ];
    for (input, ty, detail) in cases {
        let e = match normalize(ResourceKind::User, &input) {
            Ok(d) => panic!("{input} accepted as {d}"),
            Err(e) => e,
        };
        assert_eq!(e.scim_type, Some(ty), "{input}: {e}");
        assert!(
            e.detail.contains(detail),
            "{input}: {} does not contain {detail}",
            e.detail
        );
    }
}

#[test]
fn read_only_and_computed_are_dropped() {
    let doc = user(
        json!({"id": "x", "meta": {}, "schemas": ["whatever"], "userName": "u", "emails": [{"value": "u@x.io"}],
        ENTERPRISE_USER: {"manager": {"value": "m", "displayName": "Boss", "$ref": "x"}}}),
    );
    assert_eq!(
        doc,
        json!({"userName": "u", "emails": [{"value": "u@x.io"}], ENTERPRISE_USER: {"manager": {"value": "m"}}})
    );
}

#[test]
fn groups() {
    let doc = normalize(
        ResourceKind::Group,
        &json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0", "displayName": "displayName", "meta": {"resourceType": "Group"},
            "members": [{"value": "u1", "$ref": "https://x/Users/u1", "display": "U", "type": "User"}, {"value": "u1"}, "u2"]}),
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"externalId": "8aa1a0c0", "displayName": "displayName", "members": [{"value": "u1"}, {"value": "u2"}]})
    );
    for (input, detail) in [
        (json!({"externalId": "x"}), "displayName is required"),
        (
            json!({"displayName": "g", "members": [{"display": "x"}]}),
            "each members entry needs a value",
        ),
        (
            json!({"displayName": "g", "userName": "x"}),
            "unknown attribute \"userName\"",
        ),
        (
            json!({"displayName": "g", "manager": "x"}),
            "unknown attribute \"manager\"",
        ),
    ] {
        let e = normalize(ResourceKind::Group, &input).expect_err(&input.to_string());
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(e.detail.contains(detail), "{}", e.detail);
    }
}

#[test]
fn e164() {
    for ok in ["+16135922122", "+4930123", "+123456789012345"] {
        assert!(is_e164(ok), "{ok}");
    }
    for bad in [
        "16135922122",
        "+0123456789",
        "+123456",
        "+1234567890123456",
        "+1 613 592 2122",
        "+",
        "",
        "+1613592212a",
    ] {
        assert!(!is_e164(bad), "{bad}");
    }
}

/// Only the numbers the platform dials (work, mobile) must be E.164; the rest are stored as sent.
#[test]
fn stored_only_phone_types_are_kept_as_sent() {
    let base = json!({
        "schemas": [USER],
        "userName": "p@example.com",
        "emails": [{ "value": "p@example.com", "type": "work" }],
    });
    let mut doc = base.clone();
    doc["phoneNumbers"] = json!([
        { "value": "6135550143", "type": "fax" },
        { "value": "(613) 555-0199 ext. 7", "type": "other" },
        { "value": "6135550100" },
        { "value": "+16135922122", "type": "Mobile" },
    ]);
    assert_eq!(user(doc.clone())["phoneNumbers"], doc["phoneNumbers"]);
    for (phones, detail) in [
        (
            json!([{ "value": "6135550143", "type": "MOBILE" }]),
            "is not an E.164 number",
        ),
        (
            json!([{ "value": "6135550143", "type": "work" }]),
            "is not an E.164 number",
        ),
        (
            json!([{ "value": "1".repeat(65), "type": "fax" }]),
            "longer than 64 characters",
        ),
        (
            json!([{ "value": "613\u{7f}5550143", "type": "fax" }]),
            "contains a control character",
        ),
    ] {
        let mut doc = base.clone();
        doc["phoneNumbers"] = phones;
        let e = normalize(ResourceKind::User, &doc).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(e.detail.contains(detail), "{}", e.detail);
    }
}

/// Names and keys are single lines; other text (an address) may span several.
#[test]
fn names_and_keys_are_single_lines() {
    let base = json!({
        "schemas": [USER],
        "userName": "l@example.com",
        "emails": [{ "value": "l@example.com", "type": "work" }],
    });
    for (path, value) in [
        ("userName", json!("l@example.com\nx")),
        ("externalId", json!("a\rb")),
        ("displayName", json!("Ann\tLee")),
        ("name", json!({ "givenName": "A\nnn" })),
    ] {
        let mut doc = base.clone();
        doc[path] = value;
        let e = normalize(ResourceKind::User, &doc).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"), "{path}");
        assert!(e.detail.contains("single line"), "{path}: {}", e.detail);
    }
    let mut doc = base.clone();
    doc["addresses"] = json!([{ "type": "work", "streetAddress": "1 Main St\nSuite 2" }]);
    assert!(normalize(ResourceKind::User, &doc).is_ok());
    let group = json!({ "schemas": [GROUP], "displayName": "Sales\nEast" });
    let e = normalize(ResourceKind::Group, &group).unwrap_err();
    assert!(
        e.detail.contains("displayName must be a single line"),
        "{}",
        e.detail
    );
}

#[test]
fn changed_names() {
    let before = json!({"userName": "u", "name": {"givenName": "A", "familyName": "B"}, "active": true,
        ENTERPRISE_USER: {"department": "D", "manager": {"value": "m1"}}, "emails": [{"value": "a@b"}]});
    let after = json!({"userName": "u", "name": {"givenName": "A2", "familyName": "B", "formatted": "A2 B"}, "active": false,
        ENTERPRISE_USER: {"department": "D", "manager": {"value": "m2"}, "costCenter": "c"}, "emails": [{"value": "a@b"}], "title": "T"});
    assert_eq!(
        changed(ResourceKind::User, &before, &after),
        [
            "active",
            "costCenter",
            "manager",
            "name.formatted",
            "name.givenName",
            "title"
        ]
    );
    assert!(changed(ResourceKind::User, &before, &before).is_empty());
    assert_eq!(
        changed(
            ResourceKind::Group,
            &json!({"displayName": "a"}),
            &json!({"displayName": "b", "members": [{"value": "u"}]})
        ),
        ["displayName", "members"]
    );
}

fn rendered() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE_USER], "id": "u1", "externalId": "e", "userName": "u",
        "name": {"givenName": "A", "familyName": "B"}, "title": "T",
        "emails": [{"value": "a@b", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "location": "https://x/Users/u1"},
        ENTERPRISE_USER: {"department": "D", "manager": {"value": "m", "$ref": "https://x/Users/m", "displayName": "M"}}
    })
}

#[test]
fn projection_attributes() {
    let r = rendered();
    let p = |a: &str| project(ResourceKind::User, &r, Some(a), None);
    assert_eq!(
        p("userName"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1", "userName": "u"})
    );
    assert_eq!(
        p("USERNAME, name.givenName"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1", "userName": "u", "name": {"givenName": "A"}})
    );
    assert_eq!(
        p("emails.value"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1", "emails": [{"value": "a@b"}]})
    );
    assert_eq!(
        p("department"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1", ENTERPRISE_USER: {"department": "D"}})
    );
    assert_eq!(
        p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1", ENTERPRISE_USER: {"manager": {"value": "m"}}})
    );
    assert_eq!(p(ENTERPRISE_USER)[ENTERPRISE_USER], r[ENTERPRISE_USER]);
    assert_eq!(
        p("urn:ietf:params:scim:schemas:core:2.0:User:title")["title"],
        "T"
    );
    assert_eq!(p("meta")["meta"], r["meta"]);
    assert_eq!(
        p("nosuch"),
        json!({"schemas": [USER, ENTERPRISE_USER], "id": "u1"})
    );
    // Both given: `attributes` wins.
    assert_eq!(
        project(ResourceKind::User, &r, Some("title"), Some("title"))["title"],
        "T"
    );
    // Blank means not given.
    assert_eq!(project(ResourceKind::User, &r, Some(" "), None), r);
}

#[test]
fn projection_excluded() {
    let r = rendered();
    let x = |e: &str| project(ResourceKind::User, &r, None, Some(e));
    let out = x("name,emails , meta");
    assert!(out.get("name").is_none() && out.get("emails").is_none() && out.get("meta").is_none());
    assert_eq!(out["userName"], "u");
    assert_eq!(x("id,schemas")["id"], "u1");
    assert!(x("id,schemas").get("schemas").is_some());
    assert_eq!(x("name.givenName")["name"], json!({"familyName": "B"}));
    let out = x("department,manager");
    assert!(out.get(ENTERPRISE_USER).is_none());
    assert!(x(ENTERPRISE_USER).get(ENTERPRISE_USER).is_none());
    let g = json!({"schemas": [GROUP], "id": "g", "displayName": "G", "members": [{"value": "u"}]});
    assert_eq!(
        project(ResourceKind::Group, &g, None, Some("members")),
        json!({"schemas": [GROUP], "id": "g", "displayName": "G"})
    );
    assert_eq!(project(ResourceKind::User, &r, None, None), r);
}
