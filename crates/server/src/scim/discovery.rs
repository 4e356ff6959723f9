//! ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 §4).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use skybridge_scim::{ScimError, schema};

use super::Tenant;
use super::query::MAX_COUNT;
use super::reply::{Fail, json};

pub fn service_provider_config(t: &Tenant) -> Response {
    json(
        StatusCode::OK,
        &schema::service_provider_config(&t.base, MAX_COUNT),
    )
}

pub fn resource_types(t: &Tenant, id: Option<&str>) -> Result<Response, Fail> {
    one_or_list(schema::resource_types(&t.base), id, "resource type")
}

pub fn schemas(t: &Tenant, id: Option<&str>) -> Result<Response, Fail> {
    one_or_list(schema::schemas(&t.base), id, "schema")
}

fn one_or_list(items: Vec<Value>, id: Option<&str>, what: &str) -> Result<Response, Fail> {
    match id {
        None => Ok(json(
            StatusCode::OK,
            &json!({
                "schemas": [schema::LIST_RESPONSE],
                "totalResults": items.len(),
                "itemsPerPage": items.len(),
                "startIndex": 1,
                "Resources": items,
            }),
        )),
        Some(id) => items
            .into_iter()
            .find(|i| i["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))
            .map(|i| json(StatusCode::OK, &i))
            .ok_or_else(|| Fail::Scim(ScimError::not_found(format!("{what} {id} not found")))),
    }
}
