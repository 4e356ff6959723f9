use serde_json::{Value, json};

use super::*;
use crate::schema::{ENTERPRISE_USER, PATCH_OP};

fn base_user() -> Value {
    json!({
        "userName": "u@contoso.com",
        "externalId": "ext",
        "active": true,
        "name": {"familyName": "F", "givenName": "G"},
        "emails": [{"value": "u@contoso.com", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+16135922122", "type": "mobile"}],
    })
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": list})
}

fn patched(kind: ResourceKind, doc: &Value, body: Value) -> Value {
    let mut d = doc.clone();
    if let Err(e) = apply(kind, &mut d, &body) {
        panic!("{body}: {e:?}");
    }
    d
}

fn user_with(body: Value) -> Value {
    patched(ResourceKind::User, &base_user(), body)
}

fn user_err(body: Value) -> ScimError {
    let mut d = base_user();
    apply(ResourceKind::User, &mut d, &body).expect_err(&body.to_string())
}

#[test]
fn entra_default_dialect_user_patch() {
    let mut doc = base_user();
    doc["addresses"] =
        json!([{"type": "work", "formatted": "old"}, {"type": "home", "formatted": "home"}]);
    let d = patched(
        ResourceKind::User,
        &doc,
        ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"}
        ])),
    );
    assert_eq!(
        d,
        json!({
            "userName": "5b50642d@testuser.com", "externalId": "Eqpj", "active": true, "nickName": "Babs",
            "name": {"familyName": "updatedFamilyName", "givenName": "G"},
            "emails": [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+16135922122", "type": "mobile"}],
            "addresses": [{"type": "work", "formatted": "18/2111"}, {"type": "home", "formatted": "home"}],
            ENTERPRISE_USER: {"employeeNumber": "Eqpj", "department": "Retail"}
        })
    );
}

#[test]
fn entra_flagged_dialect_user_patch() {
    let d = user_with(ops(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}},
        {"op": "replace", "path": "active", "value": false}
    ])));
    assert_eq!(
        d["emails"],
        json!([{"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(d["displayName"], "Bjfe");
    assert_eq!(
        d["name"],
        json!({"familyName": "Unua", "givenName": "Kkom"})
    );
    assert_eq!(d[ENTERPRISE_USER], json!({"employeeNumber": "Aklq"}));
    assert_eq!(d["active"], false);
}

#[test]
fn validator_pathless_shapes() {
    let d = user_with(ops(json!([
        {"op": "add", "value": {"name.givenName": "A", "name.formatted": "A F"}},
        {"op": "replace", "value": {"userName": "new@x.io", "active": "False",
            ENTERPRISE_USER: {"department": "D", "manager": "m1"},
            "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:shoeSize": "9",
            "schemas": ["ignored"]}}
    ])));
    assert_eq!(
        d["name"],
        json!({"familyName": "F", "givenName": "A", "formatted": "A F"})
    );
    assert_eq!(
        (d["userName"].clone(), d["active"].clone()),
        (json!("new@x.io"), json!(false))
    );
    assert_eq!(
        d[ENTERPRISE_USER],
        json!({"department": "D", "manager": {"value": "m1"}})
    );
}

#[test]
fn disable_and_enable_in_every_spelling() {
    // Q1 op case, Q2 string booleans, Q3 add on a single-valued attribute, Q8 wrapped value.
    for (op, value, want) in [
        ("Replace", json!("False"), false),
        ("replace", json!(false), false),
        ("Add", json!("False"), false),
        ("ADD", json!("false"), false),
        ("Replace", json!([{"$ref": null, "value": "False"}]), false),
        ("Replace", json!("True"), true),
        ("add", json!(true), true),
    ] {
        let mut doc = base_user();
        doc["active"] = json!(!want);
        let d = patched(
            ResourceKind::User,
            &doc,
            ops(json!([{"op": op, "path": "active", "value": value}])),
        );
        assert_eq!(d["active"], want, "{op} {value}");
    }
    // Q13: no schemas; lower-case `operations` key.
    let d =
        user_with(json!({"operations": [{"op": "replace", "path": "Active", "value": "False"}]}));
    assert_eq!(d["active"], false);
}

#[test]
fn manager_shapes() {
    // Q9: array with $ref under the bare `manager` path, a bare string, an object; then removal.
    for (path, value) in [
        (
            "manager",
            json!([{"$ref": "http://x/scim/Users/00aa", "value": "00aa"}]),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            json!("00aa"),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            json!({"value": "00aa"}),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            json!("00aa"),
        ),
        (
            "Manager",
            json!({"value": "00aa", "$ref": "https://h/Users/00aa"}),
        ),
    ] {
        let d = user_with(ops(json!([{"op": "Add", "path": path, "value": value}])));
        assert_eq!(
            d[ENTERPRISE_USER],
            json!({"manager": {"value": "00aa"}}),
            "{path} {value}"
        );
        let gone = patched(
            ResourceKind::User,
            &d,
            ops(
                json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
            ),
        );
        assert!(gone.get(ENTERPRISE_USER).is_none(), "{gone}");
    }
}

#[test]
fn roles() {
    // Q10: JSON-encoded role in the default dialect.
    let d = user_with(ops(json!([{"op": "Add", "path": "roles", "value": [
        {"value": "{\"id\":\"06b07648\",\"value\":\"25\",\"displayName\":\"Role1234\"}"}]}])));
    assert_eq!(d["roles"], json!([{"value": "25", "display": "Role1234"}]));
    let d = user_with(ops(json!([{"op": "replace", "path": "roles", "value": [
        {"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"},
        {"primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "User"}]}])));
    assert_eq!(d["roles"].as_array().unwrap().len(), 2);
    // Q2 in a path filter: roles[primary eq "True"].value.
    let d2 = patched(
        ResourceKind::User,
        &d,
        ops(
            json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]),
        ),
    );
    assert_eq!(d2["roles"][0]["value"], "Owner");
    assert_eq!(d2["roles"][1]["value"], "User");
    // … and it creates the primary role when there is none.
    let d3 = user_with(ops(
        json!([{"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Owner"}]),
    ));
    assert_eq!(d3["roles"], json!([{"primary": true, "value": "Owner"}]));
}

#[test]
fn typed_upserts_keep_other_entries() {
    // Q4 creates the missing work entry, Q5 leaves the others alone.
    let mut doc = base_user();
    doc["emails"] = json!([{"value": "home@x.io", "type": "home", "primary": true}]);
    let d = patched(
        ResourceKind::User,
        &doc,
        ops(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "work@x.io"},
            {"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+16135922199"},
            {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+16135922100"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "K2K"}
        ])),
    );
    assert_eq!(
        d["emails"],
        json!([{"value": "home@x.io", "type": "home", "primary": true}, {"type": "work", "value": "work@x.io"}])
    );
    assert_eq!(
        d["phoneNumbers"],
        json!([{"value": "+16135922122", "type": "mobile"}, {"type": "work", "value": "+16135922199"}, {"type": "fax", "value": "+16135922100"}])
    );
    assert_eq!(
        d["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "postalCode": "K2K"}])
    );
}

#[test]
fn add_to_typed_multi_valued() {
    // An entry of an existing type replaces it (one entry per type), a new
    // primary demotes the old one, identical entries are not duplicated.
    let d = user_with(ops(json!([
        {"op": "add", "path": "emails", "value": [{"value": "home@x.io", "type": "home", "primary": true}]},
        {"op": "add", "path": "phoneNumbers", "value": [{"value": "+16135922999", "type": "mobile"}]},
        {"op": "add", "path": "phoneNumbers", "value": {"value": "+16135922999", "type": "mobile"}}
    ])));
    assert_eq!(
        d["emails"],
        json!([{"value": "u@contoso.com", "type": "work"}, {"value": "home@x.io", "type": "home", "primary": true}])
    );
    assert_eq!(
        d["phoneNumbers"],
        json!([{"value": "+16135922999", "type": "mobile"}])
    );
}

#[test]
fn replace_and_remove_multi_valued() {
    let d = user_with(ops(
        json!([{"op": "replace", "path": "emails", "value": [{"value": "n@x.io", "type": "other", "primary": true}]}]),
    ));
    assert_eq!(
        d["emails"],
        json!([{"value": "n@x.io", "type": "other", "primary": true}])
    );
    let d = user_with(ops(json!([{"op": "remove", "path": "phoneNumbers"}])));
    assert!(d.get("phoneNumbers").is_none());
    let d = user_with(ops(
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"]"}]),
    ));
    assert!(d.get("phoneNumbers").is_none());
    // Entra re-sends removals: no match is a no-op.
    let d = user_with(ops(
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"}]),
    ));
    assert_eq!(d["phoneNumbers"], base_user()["phoneNumbers"]);
    // Removing the value of an entry removes the entry.
    let d = user_with(ops(
        json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"].value"}]),
    ));
    assert!(d.get("phoneNumbers").is_none());
    let d = user_with(ops(
        json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
    ));
    assert_eq!(
        d["emails"],
        json!([{"value": "u@contoso.com", "type": "work"}])
    );
    let d = user_with(ops(
        json!([{"op": "remove", "path": "phoneNumbers", "value": [{"value": "+16135922122"}]}]),
    ));
    assert!(d.get("phoneNumbers").is_none());
}

#[test]
fn single_valued_add_replace_remove() {
    let d = user_with(ops(json!([
        {"op": "add", "path": "name", "value": {"middleName": "M"}},
        {"op": "replace", "path": "title", "value": "CEO"},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"division": "Dv", "costCenter": "C"}},
        {"op": "remove", "path": "externalId"},
        {"op": "remove", "path": "name.givenName"}
    ])));
    assert_eq!(d["name"], json!({"familyName": "F", "middleName": "M"}));
    assert_eq!(d["title"], "CEO");
    assert_eq!(
        d[ENTERPRISE_USER],
        json!({"division": "Dv", "costCenter": "C"})
    );
    assert!(d.get("externalId").is_none());
    let d2 = patched(
        ResourceKind::User,
        &d,
        ops(json!([{"op": "remove", "path": ENTERPRISE_USER}, {"op": "remove", "path": "name"}])),
    );
    assert!(d2.get(ENTERPRISE_USER).is_none() && d2.get("name").is_none());
    // Replace with null clears.
    let d3 = patched(
        ResourceKind::User,
        &d,
        ops(json!([{"op": "replace", "path": "title", "value": null}])),
    );
    assert!(d3.get("title").is_none());
}

fn group() -> Value {
    json!({"displayName": "G", "externalId": "8aa1", "members": [{"value": "u1"}, {"value": "u2"}]})
}

fn group_with(body: Value) -> Value {
    patched(ResourceKind::Group, &group(), body)
}

#[test]
fn group_membership() {
    let d = group_with(ops(
        json!([{"op": "Replace", "path": "displayName", "value": "renamed"}]),
    ));
    assert_eq!(d["displayName"], "renamed");
    // Add (deduped, $ref:null tolerated), many at once.
    let d = group_with(ops(json!([{"op": "Add", "path": "members", "value": [
        {"$ref": null, "value": "u3"}, {"$ref": null, "value": "u1"}, {"value": "u4", "display": "x", "type": "User"}]}])));
    assert_eq!(
        d["members"],
        json!([{"value": "u1"}, {"value": "u2"}, {"value": "u3"}, {"value": "u4"}])
    );
    // Q6: remove with a value array removes only those.
    let d = group_with(ops(
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}]}]),
    ));
    assert_eq!(d["members"], json!([{"value": "u2"}]));
    let d = group_with(ops(
        json!([{"op": "Remove", "path": "members", "value": []}]),
    ));
    assert_eq!(d["members"], group()["members"]);
    // Flagged dialect.
    let d = group_with(ops(
        json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
    ));
    assert_eq!(d["members"], json!([{"value": "u1"}]));
    let d = group_with(ops(
        json!([{"op": "remove", "path": "members[value eq \"nope\"]"}]),
    ));
    assert_eq!(d["members"], group()["members"]);
    // Without a value: all members go.
    let d = group_with(ops(json!([{"op": "remove", "path": "members"}])));
    assert!(d.get("members").is_none());
    let d = group_with(ops(
        json!([{"op": "replace", "path": "members", "value": [{"value": "u9", "$ref": "https://h/Users/u9", "type": "User"}]}]),
    ));
    assert_eq!(d["members"], json!([{"value": "u9"}]));
}

#[test]
fn errors() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "invalidSyntax", "JSON object"),
        (
            json!({"schemas": [PATCH_OP]}),
            "invalidSyntax",
            "Operations",
        ),
        (ops(json!([])), "invalidSyntax", "Operations"),
        (ops(json!({"op": "add"})), "invalidSyntax", "Operations"),
        (
            ops(json!([{"op": "move", "path": "title", "value": "x"}])),
            "invalidSyntax",
            "expected \"add\"",
        ),
        (
            ops(json!([{"path": "title", "value": "x"}])),
            "invalidSyntax",
            "no \"op\"",
        ),
        (ops(json!(["x"])), "invalidSyntax", "must be an object"),
        (ops(json!([{"op": "remove"}])), "noTarget", "path"),
        (
            ops(json!([{"op": "add", "value": "x"}])),
            "invalidValue",
            "object",
        ),
        (
            ops(json!([{"op": "add", "path": "title"}])),
            "invalidValue",
            "needs a value",
        ),
        (
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
            "mutability",
            "\"id\" is read-only",
        ),
        (
            ops(json!([{"op": "replace", "path": "meta.created", "value": "x"}])),
            "mutability",
            "read-only",
        ),
        (
            ops(json!([{"op": "replace", "path": "schemas", "value": []}])),
            "mutability",
            "schemas",
        ),
        (
            ops(json!([{"op": "replace", "path": "manager.displayName", "value": "x"}])),
            "mutability",
            "manager.displayName",
        ),
        (
            ops(json!([{"op": "replace", "path": "foo", "value": "x"}])),
            "invalidPath",
            "unknown attribute \"foo\"",
        ),
        (
            ops(json!([{"op": "replace", "path": "name.foo", "value": "x"}])),
            "invalidPath",
            "no sub-attribute \"foo\"",
        ),
        (
            ops(json!([{"op": "replace", "path": "title[value eq \"x\"]", "value": "x"}])),
            "invalidPath",
            "not multi-valued",
        ),
        (
            ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            "invalidPath",
            "invalid path",
        ),
        (
            ops(json!([{"op": "replace", "path": 5, "value": "x"}])),
            "invalidPath",
            "string",
        ),
        (
            ops(json!([{"op": "replace", "path": "emails[value co \"zz\"].type", "value": "x"}])),
            "noTarget",
            "matches no emails",
        ),
        (
            ops(
                json!([{"op": "replace", "path": "emails[value eq \"zz@x\"].type", "value": "home"}]),
            ),
            "noTarget",
            "matches no emails",
        ),
        (
            ops(
                json!([{"op": "replace", "path": "roles[value eq \"r\"]", "value": {"value": "q"}}]),
            ),
            "noTarget",
            "matches no roles",
        ),
        (
            ops(json!([{"op": "remove", "path": "userName"}])),
            "invalidValue",
            "userName is required",
        ),
        (
            ops(json!([{"op": "remove", "path": "emails"}])),
            "invalidValue",
            "emails is required",
        ),
        (
            ops(
                json!([{"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "613-592-2122"}]),
            ),
            "invalidValue",
            "E.164",
        ),
        (
            ops(json!([{"op": "add", "path": "emails", "value": [{"value": "bad"}]}])),
            "invalidValue",
            "e-mail",
        ),
        (
            ops(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
            "invalidValue",
            "boolean",
        ),
        (
            ops(json!([{"op": "replace", "path": "title", "value": 42}])),
            "invalidValue",
            "title must be a string",
        ),
        (
            ops(
                json!([{"op": "replace", "path": "emails", "value": [{"value": "a@b", "type": "work"}, {"value": "c@d", "type": "work"}]}]),
            ),
            "invalidValue",
            "two entries of type",
        ),
    ];
    for (body, ty, detail) in cases {
        let e = user_err(body.clone());
        assert_eq!(e.scim_type, Some(ty), "{body}: {e:?}");
        assert!(
            e.detail.contains(detail),
            "{body}: {:?} lacks {detail}",
            e.detail
        );
    }
    let mut g = group();
    let e = apply(
        ResourceKind::Group,
        &mut g,
        &ops(json!([{"op": "remove", "path": "displayName"}])),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some("invalidValue"));
    let mut g = group();
    let e = apply(
        ResourceKind::Group,
        &mut g,
        &ops(json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u7"}])),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some("mutability"));
}

#[test]
fn custom_extension_paths_are_ignored() {
    let d = user_with(ops(json!([
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute", "value": "x"},
        {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"}
    ])));
    assert_eq!(d, base_user());
}

/// The requests scim2-tester sends: a random value per attribute, then the
/// same value read back.
#[test]
fn scim2_tester_round_trips() {
    let minimal = json!({"userName": "u", "emails": [{"value": "a@b.com", "primary": true}]});
    let manager = json!({"value": "m1", "$ref": "https://h/scim/v2/a/Users/m1"});
    let adds = [
        ("externalId", json!("e1")),
        (
            "name",
            json!({"formatted": "f", "familyName": "fa", "givenName": "g", "middleName": "m", "honorificPrefix": "p", "honorificSuffix": "s"}),
        ),
        ("active", json!(false)),
        (
            "phoneNumbers",
            json!([{"value": "+16135922122", "type": "fax", "primary": true}]),
        ),
        (
            "addresses",
            json!([{"formatted": "f", "streetAddress": "s", "locality": "l", "region": "r", "postalCode": "p", "country": "c", "type": "home", "primary": true}]),
        ),
        (
            "roles",
            json!([{"value": "v", "display": "d", "type": "t", "primary": true}]),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            json!("n"),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            manager.clone(),
        ),
        (
            ENTERPRISE_USER,
            json!({"employeeNumber": "1", "costCenter": "2", "organization": "3", "division": "4", "department": "5", "manager": manager}),
        ),
    ];
    for op in ["add", "replace"] {
        for (path, value) in &adds {
            let d = patched(
                ResourceKind::User,
                &minimal,
                ops(json!([{"op": op, "path": path, "value": value}])),
            );
            let stored = match path.strip_prefix(&format!("{ENTERPRISE_USER}:")) {
                Some(name) => d[ENTERPRISE_USER][name].clone(),
                None if *path == ENTERPRISE_USER => d[ENTERPRISE_USER].clone(),
                None => d[*path].clone(),
            };
            let mut want = value.clone();
            if let Some(o) = want.as_object_mut() {
                o.remove("schemas");
            }
            // `$ref` is rendered by the server from `value`, not stored.
            if path.ends_with("manager") {
                want.as_object_mut().unwrap().remove("$ref");
            } else if let Some(m) = want.get_mut("manager") {
                m.as_object_mut().unwrap().remove("$ref");
            }
            assert_eq!(stored, want, "{op} {path}");
            let removed = patched(
                ResourceKind::User,
                &d,
                ops(json!([{"op": "remove", "path": path}])),
            );
            assert_eq!(removed, minimal, "remove {path}");
        }
    }
    let g = json!({"displayName": "g"});
    let d = patched(
        ResourceKind::Group,
        &g,
        ops(
            json!([{"op": "add", "path": "members", "value": [{"value": "u1", "$ref": "https://h/Users/u1", "type": "User"}]}]),
        ),
    );
    assert_eq!(d["members"], json!([{"value": "u1"}]));
}

#[test]
fn result_is_normalized_and_idempotent() {
    let body = ops(json!([
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u3"}]},
        {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}]}
    ]));
    let once = group_with(body.clone());
    let twice = patched(ResourceKind::Group, &once, body);
    assert_eq!(once, twice);
    assert_eq!(
        crate::resource::normalize(ResourceKind::Group, &once).unwrap(),
        once
    );
}

#[test]
fn wrapped_simple_values_are_unwrapped() {
    // Q8: an old Microsoft library wraps simple values in a one-element list.
    let d = user_with(ops(json!([
        {"op": "Replace", "path": "displayName", "value": [{"$ref": null, "value": "Wrapped"}]},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": [{"value": "w@x.io"}]},
        {"op": "Add", "path": "title", "value": ["Boss"]}
    ])));
    assert_eq!(d["displayName"], "Wrapped");
    assert_eq!(d["emails"][0]["value"], "w@x.io");
    assert_eq!(d["title"], "Boss");
}

#[test]
fn attribute_names_in_any_case() {
    // Q18 in paths, sub-attributes, filters and path-less keys.
    let d = user_with(ops(json!([
        {"op": "replace", "path": "NAME.GIVENNAME", "value": "g2"},
        {"op": "replace", "path": "Emails[Type EQ \"WORK\"].Value", "value": "w2@x.io"},
        {"op": "replace", "value": {"DisplayName": "D", "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department": "Dep"}}
    ])));
    assert_eq!(d["name"]["givenName"], "g2");
    assert_eq!(d["emails"][0]["value"], "w2@x.io");
    assert_eq!(d["displayName"], "D");
    assert_eq!(d[ENTERPRISE_USER]["department"], "Dep");
}
