#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use skybridge_scim::{ResourceKind, patch, resource};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else { return };
    let user = json!({
        "userName": "u", "active": true, "name": {"givenName": "g"},
        "emails": [{"value": "a@b", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+16135922122", "type": "mobile"}],
        "roles": [{"value": "r", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m"}, "department": "d"}
    });
    let group = json!({"displayName": "g", "members": [{"value": "u1"}, {"value": "u2"}]});
    for (kind, doc) in [(ResourceKind::User, user), (ResourceKind::Group, group)] {
        let mut d = doc.clone();
        if patch::apply(kind, &mut d, &body).is_ok() {
            // A patched document is valid and already normalised.
            assert_eq!(resource::normalize(kind, &d), Ok(d.clone()), "body {body}");
        }
        // The body as a resource must not panic either.
        if let Ok(n) = resource::normalize(kind, &body) {
            assert_eq!(resource::normalize(kind, &n), Ok(n.clone()));
        }
    }
});
