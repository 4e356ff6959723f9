use serde_json::{Value, json};

use super::*;
use crate::schema::ENTERPRISE_USER;

fn p(s: &str) -> Filter {
    match parse(s) {
        Ok(f) => f,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn path(attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: None,
        attr: attr.into(),
        sub: sub.map(Into::into),
    }
}

fn eq(attr: &str, v: Value) -> Filter {
    Filter::Compare {
        path: path(attr, None),
        op: CompareOp::Eq,
        value: v,
    }
}

fn user() -> Value {
    json!({
        "schemas": [crate::schema::USER, ENTERPRISE_USER],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-42",
        "userName": "Bjensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+16135922122", "type": "mobile"}],
        "roles": [{"value": "Admin", "primary": true}],
        "meta": {"resourceType": "User", "created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T18:29:49.793Z",
                 "location": "https://x/Users/2819c223"},
        ENTERPRISE_USER: {"department": "Retail", "employeeNumber": "701984",
                          "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "https://x/Users/26118915", "displayName": "John"}}
    })
}

fn group() -> Value {
    json!({
        "schemas": [crate::schema::GROUP], "id": "g1", "displayName": "Sales",
        "members": [{"value": "u1", "$ref": "https://x/Users/u1", "type": "User", "display": "U One"}]
    })
}

#[test]
fn grammar_shapes() {
    assert_eq!(
        p("userName eq \"bjensen\""),
        eq("userName", json!("bjensen"))
    );
    assert_eq!(p("externalId eq jyoung"), eq("externalId", json!("jyoung")));
    assert_eq!(
        p("title pr"),
        Filter::Present {
            path: path("title", None)
        }
    );
    assert_eq!(
        p("  title   PR  "),
        Filter::Present {
            path: path("title", None)
        }
    );
    assert_eq!(p("active eq TRUE"), eq("active", json!(true)));
    assert_eq!(p("x eq null"), eq("x", Value::Null));
    assert_eq!(p("x eq 42"), eq("x", json!(42)));
    assert_eq!(
        p("x eq \"a \\\"q\\\" \\u00e9\""),
        eq("x", json!("a \"q\" é"))
    );
    // `and` binds tighter than `or`.
    let a = || {
        Box::new(Filter::Present {
            path: path("a", None),
        })
    };
    let b = || {
        Box::new(Filter::Present {
            path: path("b", None),
        })
    };
    let c = || {
        Box::new(Filter::Present {
            path: path("c", None),
        })
    };
    assert_eq!(
        p("a pr or b pr and c pr"),
        Filter::Or(a(), Box::new(Filter::And(b(), c())))
    );
    assert_eq!(
        p("a pr and b pr or c pr"),
        Filter::Or(Box::new(Filter::And(a(), b())), c())
    );
    assert_eq!(
        p("(a pr or b pr) and c pr"),
        Filter::And(Box::new(Filter::Or(a(), b())), c())
    );
    assert_eq!(p("not (a pr)"), Filter::Not(a()));
    assert_eq!(p("NOT(a pr)"), Filter::Not(a()));
    assert_eq!(p("a pr AND b pr"), Filter::And(a(), b()));
}

#[test]
fn paths_with_urns_and_sub_attributes() {
    let Filter::Compare { path: pth, .. } =
        p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"x\"")
    else {
        panic!()
    };
    assert_eq!(pth.urn.as_deref(), Some(ENTERPRISE_USER));
    assert_eq!(pth.attr, "department");
    let Filter::Compare { path: pth, .. } = p("name.familyName sw \"J\"") else {
        panic!()
    };
    assert_eq!(pth, path("name", Some("familyName")));
    let Filter::Compare {
        path: pth, value, ..
    } = p("meta.lastModified gt 2011-05-13T04:42:34Z")
    else {
        panic!()
    };
    assert_eq!(pth, path("meta", Some("lastModified")));
    assert_eq!(value, json!("2011-05-13T04:42:34Z"));
}

#[test]
fn value_paths() {
    let f = p("emails[type eq \"work\" and value co \"@example.com\"]");
    let Filter::ValuePath { attr, filter } = &f else {
        panic!()
    };
    assert_eq!(attr, &path("emails", None));
    assert!(matches!(**filter, Filter::And(..)));
    let f = p("emails[type eq \"work\"].value eq \"x@y\"");
    let Filter::ValuePath { filter, .. } = &f else {
        panic!()
    };
    assert_eq!(
        **filter,
        Filter::And(
            Box::new(eq("type", json!("work"))),
            Box::new(eq("value", json!("x@y")))
        )
    );
}

#[test]
fn errors_are_invalid_filter() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName zz \"x\"",
        "userName eq \"x",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "userName eq \"x\" and",
        "userName eq \"x\" or or b pr",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"].",
        "emails[roles[x pr]]",
        "name.a.b pr",
        "\"x\" eq \"y\"",
        "a pr andb pr",
        "x eq \"\\q\"",
        "1abc pr",
    ] {
        let e = parse(bad).expect_err(bad);
        assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        assert_eq!(e.status, 400);
    }
    assert!(
        parse("userName zz \"x\"")
            .unwrap_err()
            .detail
            .contains("offset 9")
    );
}

#[test]
fn length_and_depth_limits() {
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    assert_eq!(parse(&long).unwrap_err().scim_type, Some("invalidFilter"));
    let deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&deep).unwrap_err().detail.contains("nested"));
    let ok = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&ok).is_ok());
    let nots = format!("{}a pr{}", "not (".repeat(200), ")".repeat(200));
    assert!(parse(&nots).is_err());
    // A long flat chain is fine (no recursion per term).
    let chain = vec!["a pr"; 200].join(" and ");
    assert!(parse(&chain).is_ok());
}

#[test]
fn matching_users() {
    let u = user();
    let yes = [
        "userName eq \"bjensen@example.com\"",
        "USERNAME EQ \"BJENSEN@EXAMPLE.COM\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bjensen@example.com\"",
        "externalId eq Ext-42",
        "id eq \"2819c223-7f76-453a-919d-413861904646\"",
        "emails[type eq \"work\"].value eq \"BJensen@example.com\"",
        "emails[type eq \"work\" and value co \"@example\"]",
        "emails.value eq \"babs@jensen.org\"",
        "emails eq \"babs@jensen.org\"",
        "emails co \"jensen\"",
        "name.familyName sw \"jen\"",
        "displayName ew \"jensen\"",
        "title pr or active eq true",
        "not (title pr)",
        "active eq \"True\"",
        "active ne false",
        "roles[primary eq \"True\"]",
        "manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        "manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        "id eq \"2819c223-7f76-453a-919d-413861904646\" and manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
        "department eq \"retail\"",
        "employeeNumber eq 701984",
        "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
        "meta.created lt 2012-01-01T00:00:00+01:00",
        "meta.resourceType eq \"User\"",
        "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
        "phoneNumbers[type eq \"mobile\"].value eq \"+16135922122\"",
        "name pr",
        "title eq null",
        "userName gt \"a\" and userName lt \"c\"",
    ];
    for f in yes {
        assert!(p(f).matches(ResourceKind::User, &u), "{f}");
    }
    let no = [
        "externalId eq \"ext-42\"",
        "id eq \"2819C223-7F76-453A-919D-413861904646\"",
        "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
        "emails[type eq \"other\"]",
        "title pr",
        "active eq false",
        "manager eq \"someone-else\"",
        "password eq \"x\"",
        "password ne \"x\"",
        "foo pr",
        "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:x eq \"1\"",
        "name.nope eq \"x\"",
        "meta.lastModified gt \"2020-01-01T00:00:00Z\"",
        "active gt true",
        "roles[primary eq \"False\"]",
        "name eq \"x\"",
    ];
    for f in no {
        assert!(!p(f).matches(ResourceKind::User, &u), "{f}");
    }
}

#[test]
fn matching_groups() {
    let g = group();
    for f in [
        "displayName eq \"sales\"",
        "members[value eq \"u1\"]",
        "members.value eq \"u1\"",
        "members eq \"u1\"",
        "members[type eq \"User\"]",
    ] {
        assert!(p(f).matches(ResourceKind::Group, &g), "{f}");
    }
    for f in [
        "displayName eq \"x\"",
        "members[value eq \"u2\"]",
        "userName eq \"Sales\"",
        "manager eq \"u1\"",
    ] {
        assert!(!p(f).matches(ResourceKind::Group, &g), "{f}");
    }
}

#[test]
fn equalities_for_index_lookup() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "userName eq \"Test_User_00aa\"",
            &[("username", "Test_User_00aa")],
        ),
        ("externalId eq jyoung", &[("externalid", "jyoung")]),
        (
            "displayName eq \"displayName\"",
            &[("displayname", "displayName")],
        ),
        (
            "emails[type eq \"work\"].value eq \"user@contoso.com\"",
            &[("emails.value", "user@contoso.com")],
        ),
        ("emails.value eq \"a@b.c\"", &[("emails.value", "a@b.c")]),
        (
            "id eq \"u1\" and manager eq \"m1\"",
            &[("id", "u1"), ("manager", "m1")],
        ),
        ("manager.value eq \"m1\"", &[("manager", "m1")]),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"m1\"",
            &[("manager", "m1")],
        ),
        ("UserName EQ \"x\" and title pr", &[("username", "x")]),
        ("userName eq \"x\" or userName eq \"y\"", &[]),
        ("not (userName eq \"x\")", &[]),
        ("userName ne \"x\"", &[]),
        ("active eq true", &[]),
        ("department eq \"x\"", &[]),
    ];
    for (f, want) in cases {
        let got = p(f).equalities();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{f}");
    }
}
