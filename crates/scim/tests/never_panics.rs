//! Property tests: parsers and PATCH never panic, whatever they are fed.

use proptest::prelude::*;
use serde_json::{Value, json};
use skybridge_scim::{ResourceKind, filter, patch, path, resource};

/// Fragments of real filters and paths, so random strings get past the
/// first token often.
fn tokens() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "userName",
        "emails",
        "[",
        "]",
        "(",
        ")",
        " ",
        " eq ",
        " and ",
        " or ",
        "not",
        " pr",
        "\"",
        "\\",
        ".",
        ":",
        "value",
        "type",
        "\"work\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ":manager",
        "true",
        "null",
        "1e999",
        "-",
        "é",
        "\u{0}",
        "members",
        "[value eq \"x\"]",
        ".value",
    ]);
    prop::collection::vec(
        prop_oneof![atoms.prop_map(str::to_string), any::<String>()],
        0..40,
    )
    .prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "add",
            "Replace",
            "remove",
            "True",
            "members",
            "emails[type eq \"work\"].value",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "+16135922122",
            "a@b",
            "value",
            "{\"value\":\"x\"}",
            "roles[primary eq \"True\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let keys = prop::sample::select(vec![
            "op",
            "path",
            "value",
            "Operations",
            "userName",
            "emails",
            "members",
            "manager",
            "type",
            "primary",
            "active",
            "name",
            "name.givenName",
            "$ref",
            "roles",
            "phoneNumbers",
            "addresses",
            "displayName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "x",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_body() -> impl Strategy<Value = Value> {
    let op = (
        prop::sample::select(vec!["add", "Replace", "remove", "ADD", "bogus"]),
        prop::option::of(prop_oneof![
            tokens(),
            prop::sample::select(vec![
                "members",
                "emails[type eq \"work\"].value",
                "manager",
                "active",
                "roles[primary eq \"True\"].value",
                "members[value eq \"u1\"]",
                "name.familyName",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                "phoneNumbers[type eq \"mobile\"]",
                "addresses[type eq \"work\"].formatted",
                "emails",
            ])
            .prop_map(str::to_string)
        ]),
        json_value(),
    )
        .prop_map(|(op, path, value)| {
            let mut o = json!({"op": op, "value": value});
            if let Some(p) = path {
                o["path"] = Value::String(p);
            }
            o
        });
    prop::collection::vec(op, 0..5).prop_map(|ops| json!({"Operations": ops}))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn filter_parse_never_panics(s in tokens()) {
        if let Ok(f) = filter::parse(&s) {
            let _ = f.equalities();
            let _ = f.matches(ResourceKind::User, &json!({"userName": "x", "emails": [{"value": "a@b", "type": "work"}]}));
        }
    }

    #[test]
    fn path_parse_never_panics(s in tokens()) {
        let _ = path::parse(&s);
    }

    #[test]
    fn apply_never_panics(body in patch_body(), raw in json_value()) {
        let mut user = json!({"userName": "u", "emails": [{"value": "a@b", "type": "work", "primary": true}],
            "roles": [{"value": "r", "primary": true}]});
        let _ = patch::apply(ResourceKind::User, &mut user, &body);
        let _ = patch::apply(ResourceKind::User, &mut user.clone(), &raw);
        let mut group = json!({"displayName": "g", "members": [{"value": "u1"}]});
        let _ = patch::apply(ResourceKind::Group, &mut group, &body);
    }

    #[test]
    fn normalize_and_project_never_panic(v in json_value(), a in tokens()) {
        for kind in [ResourceKind::User, ResourceKind::Group] {
            if let Ok(doc) = resource::normalize(kind, &v) {
                // A document is a fixed point of normalisation.
                prop_assert_eq!(resource::normalize(kind, &doc), Ok(doc.clone()));
            }
            let _ = resource::project(kind, &v, Some(&a), None);
            let _ = resource::project(kind, &v, None, Some(&a));
            let _ = resource::changed(kind, &v, &json!({}));
        }
    }

    #[test]
    fn successful_patches_yield_valid_documents(body in patch_body()) {
        let mut user = json!({"userName": "u", "emails": [{"value": "a@b", "type": "work"}]});
        if patch::apply(ResourceKind::User, &mut user, &body).is_ok() {
            prop_assert_eq!(resource::normalize(ResourceKind::User, &user), Ok(user.clone()));
        }
    }
}
