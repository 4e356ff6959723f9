use serde_json::json;

use super::*;
use crate::filter::{AttrPath, CompareOp};
use crate::schema::ENTERPRISE_USER;

fn pp(s: &str) -> PatchPath {
    match parse(s) {
        Ok(p) => p,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn eq(attr: &str, v: serde_json::Value) -> Filter {
    Filter::Compare {
        path: AttrPath {
            urn: None,
            attr: attr.into(),
            sub: None,
        },
        op: CompareOp::Eq,
        value: v,
    }
}

#[test]
fn shapes() {
    let plain = |attr: &str, sub: Option<&str>| PatchPath {
        urn: None,
        attr: attr.into(),
        filter: None,
        sub_attr: sub.map(Into::into),
    };
    assert_eq!(pp("userName"), plain("userName", None));
    assert_eq!(pp("name.familyName"), plain("name", Some("familyName")));
    assert_eq!(pp(" active "), plain("active", None));
    assert_eq!(
        pp("members[value eq \"x\"]"),
        PatchPath {
            urn: None,
            attr: "members".into(),
            filter: Some(eq("value", json!("x"))),
            sub_attr: None
        }
    );
    assert_eq!(
        pp("emails[type eq \"work\"].value"),
        PatchPath {
            urn: None,
            attr: "emails".into(),
            filter: Some(eq("type", json!("work"))),
            sub_attr: Some("value".into())
        }
    );
    assert_eq!(
        pp("roles[primary eq \"True\"].value"),
        PatchPath {
            urn: None,
            attr: "roles".into(),
            filter: Some(eq("primary", json!("True"))),
            sub_attr: Some("value".into())
        }
    );
    assert_eq!(
        pp("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        PatchPath {
            urn: Some(ENTERPRISE_USER.into()),
            attr: "manager".into(),
            filter: None,
            sub_attr: None
        }
    );
    assert_eq!(
        pp("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        PatchPath {
            urn: Some(ENTERPRISE_USER.into()),
            attr: "manager".into(),
            filter: None,
            sub_attr: Some("value".into())
        }
    );
    assert_eq!(
        pp(ENTERPRISE_USER),
        PatchPath {
            urn: Some(ENTERPRISE_USER.into()),
            attr: String::new(),
            filter: None,
            sub_attr: None
        }
    );
    assert_eq!(
        pp("members[value eq \"a]b\"]").filter,
        Some(eq("value", json!("a]b")))
    );
    assert!(
        pp("emails[type eq \"work\" and value ew \"@x.com\"]")
            .filter
            .is_some()
    );
}

#[test]
fn bad_paths_are_invalid_path() {
    for bad in [
        "",
        "   ",
        "name.familyName.x",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"]value",
        "emails[type eq \"work\"].",
        "emails[type eq \"work\"].value.x",
        "emails[]",
        "name.givenName[type eq \"x\"]",
        "user name",
        "\"userName\"",
        "emails[type eq \"work\"]]",
        "9lives",
    ] {
        let e = parse(bad).expect_err(bad);
        assert_eq!(e.scim_type, Some("invalidPath"), "{bad}");
    }
    let long = "a".repeat(MAX_FILTER_LEN + 1);
    assert_eq!(parse(&long).unwrap_err().scim_type, Some("invalidPath"));
}
