use serde_json::Value;

use super::*;

const BASE: &str = "https://h.example/scim/v2/acct";

fn attr_names(schema: &Value) -> Vec<&str> {
    schema["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["name"].as_str())
        .collect()
}

#[test]
fn publishes_resource_and_meta_schemas_with_locations() {
    let all = schemas(BASE);
    let names: Vec<&str> = all.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "User",
            "EnterpriseUser",
            "Group",
            "Schema",
            "ResourceType",
            "ServiceProviderConfig"
        ]
    );
    for s in &all {
        assert_eq!(s["meta"]["resourceType"], "Schema");
        assert_eq!(
            s["meta"]["location"],
            format!("{BASE}/Schemas/{}", s["id"].as_str().unwrap())
        );
        assert_eq!(s["schemas"], serde_json::json!([SCHEMA_SCHEMA]));
    }
}

#[test]
fn user_schema_advertises_only_what_is_stored() {
    let all = schemas(BASE);
    assert_eq!(
        attr_names(&all[0]),
        [
            "userName",
            "name",
            "displayName",
            "nickName",
            "title",
            "preferredLanguage",
            "active",
            "emails",
            "phoneNumbers",
            "addresses",
            "roles",
            "externalId"
        ]
    );
    assert_eq!(
        attr_names(&all[1]),
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
    assert_eq!(
        attr_names(&all[2]),
        ["displayName", "members", "externalId"]
    );
    // Microsoft's validator rejects `id` in a schema; it is a common attribute.
    assert!(!attr_names(&all[0]).contains(&"id"));
}

#[test]
fn attribute_characteristics() {
    let all = schemas(BASE);
    let find = |s: &Value, n: &str| {
        s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == n)
            .unwrap()
            .clone()
    };
    let user_name = find(&all[0], "userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(find(&all[0], "externalId")["caseExact"], true);
    let emails = find(&all[0], "emails");
    assert_eq!(
        (emails["required"].clone(), emails["multiValued"].clone()),
        (true.into(), true.into())
    );
    assert_eq!(
        emails["subAttributes"][1]["canonicalValues"],
        serde_json::json!(["work", "home", "other"])
    );
    let manager = find(&all[1], "manager");
    let subs = manager["subAttributes"].as_array().unwrap();
    assert_eq!(subs[1]["name"], "$ref");
    assert_eq!(subs[1]["referenceTypes"], serde_json::json!(["User"]));
    assert_eq!(subs[1]["mutability"], "readWrite");
    assert_eq!(subs[2]["mutability"], "readOnly");
    let members = find(&all[2], "members");
    let subs = members["subAttributes"].as_array().unwrap();
    let muts: Vec<&str> = subs
        .iter()
        .map(|s| s["mutability"].as_str().unwrap())
        .collect();
    assert_eq!(muts, ["immutable", "immutable", "readOnly", "readOnly"]);
    assert_eq!(find(&all[2], "displayName")["required"], true);
}

#[test]
fn resource_types_and_spc() {
    let rts = resource_types(BASE);
    assert_eq!(rts[0]["endpoint"], "/Users");
    assert_eq!(rts[0]["schemaExtensions"][0]["schema"], ENTERPRISE_USER);
    assert_eq!(rts[0]["schemaExtensions"][0]["required"], false);
    assert_eq!(
        rts[0]["meta"]["location"],
        format!("{BASE}/ResourceTypes/User")
    );
    assert_eq!(rts[1]["schema"], GROUP);
    let spc = service_provider_config(BASE, 200);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["bulk"]["maxPayloadSize"], 1_048_576);
    assert_eq!(spc["filter"]["maxResults"], 200);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(spc["authenticationSchemes"][0]["primary"], true);
    assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
}

#[test]
fn kinds() {
    assert_eq!(ResourceKind::User.endpoint(), "Users");
    assert_eq!(ResourceKind::Group.name(), "Group");
    assert_eq!(ResourceKind::User.schemas(), [USER, ENTERPRISE_USER]);
    assert_eq!(ResourceKind::Group.schemas(), [GROUP]);
}

/// Writes the discovery documents for the scim2-models cross-check
/// (`SCIM_DUMP_DIR=… cargo test dump_discovery`).
#[test]
fn dump_discovery() {
    let Ok(dir) = std::env::var("SCIM_DUMP_DIR") else {
        return;
    };
    let write =
        |name: &str, v: Value| std::fs::write(format!("{dir}/{name}.json"), v.to_string()).unwrap();
    write("schemas", Value::Array(schemas(BASE)));
    write("resource_types", Value::Array(resource_types(BASE)));
    write("spc", service_provider_config(BASE, 200));
}
