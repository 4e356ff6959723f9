#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use skybridge_scim::{ResourceKind, filter};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(f) = filter::parse(s) else { return };
    let _ = f.equalities();
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "u",
        "emails": [{"value": "a@b", "type": "work", "primary": true}], "active": true,
        "meta": {"lastModified": "2024-01-01T00:00:00Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}}
    });
    let _ = f.matches(ResourceKind::User, &user);
    let _ = f.matches(ResourceKind::Group, &json!({"id": "g", "displayName": "g", "members": [{"value": "u1"}]}));
});
