//! The OpenAPI 3.1 document: generated from the routes of every resource (each
//! registered with its `#[utoipa::path]`), then given what no single handler
//! knows — the bearer scheme, the errors every route can answer (authentication,
//! the Host check, the body extractor's) and the table of error codes.

use axum::Router;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;

use super::error::ErrorCode;
use super::{
    ApiState, agreements, blobs, events, listings, mailbox, meshes, node, reviews, trust,
    web_sessions,
};

/// Every route, with the document generated from them.
pub(super) fn parts() -> (Router<ApiState>, Value) {
    use utoipa::openapi::{Info, OpenApi, Paths};
    let base = OpenApi::new(Info::new("swapmesh node API", "1"), Paths::new());
    let (router, document) = OpenApiRouter::with_openapi(base)
        .merge(listings::routes())
        .merge(agreements::routes())
        .merge(reviews::routes())
        .merge(trust::routes())
        .merge(mailbox::routes())
        .merge(blobs::routes())
        .merge(meshes::routes())
        .merge(node::routes())
        .merge(events::routes())
        .merge(web_sessions::routes())
        .split_for_parts();
    let mut document = serde_json::to_value(&document).expect("the document serialises");
    finish_document(&mut document);
    (router, document)
}

/// The OpenAPI 3.1 document of the API, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> Value {
    parts().1
}

/// What the generated document cannot know from one handler: the bearer
/// scheme, the errors every route can answer (authentication, the Host check,
/// the body extractor's), and the table of error codes.
fn finish_document(doc: &mut Value) {
    doc["info"]["description"] = json!(
        "The local API of a swapmesh node: listings, photos, agreements, reviews, profiles, meshes, events. \
         Money is integer minor units of an ISO 4217 currency. Every error is \
         `{\"error\": \"<sentence>\", \"code\": \"<snake_case>\", …details}`; \
         the codes are listed in the `ErrorCode` schema."
    );
    doc["servers"] = json!([{"url": "http://127.0.0.1:7878"}]);
    doc["security"] = json!([{"bearer": []}]);
    doc["components"]["securitySchemes"] = json!({"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "The token in the data directory's api-token file."
    }});
    let table: Vec<String> = ErrorCode::ALL
        .iter()
        .map(|c| {
            format!(
                "- `{}` ({}): {}",
                c.as_str(),
                c.status().as_u16(),
                c.meaning()
            )
        })
        .collect();
    doc["components"]["schemas"]["ErrorCode"]["description"] = json!(format!(
        "What went wrong, with its HTTP status:\n\n{}",
        table.join("\n")
    ));

    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            let has_body = operation.contains_key("requestBody");
            // Photo uploads are raw bytes: only the size cap of the JSON
            // extractor's refusals applies (their own 415 is documented).
            let json_body = !operation
                .get("requestBody")
                .and_then(|b| b["content"].as_object())
                .is_some_and(|c| c.keys().all(|k| k.starts_with("image/")));
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            let mut common = vec![
                ErrorCode::MissingToken,
                ErrorCode::WrongToken,
                ErrorCode::ForbiddenHost,
                ErrorCode::Internal,
            ];
            if has_body {
                common.push(ErrorCode::BodyTooLarge);
            }
            if has_body && json_body {
                common.extend([
                    ErrorCode::MalformedJson,
                    ErrorCode::NotJson,
                    ErrorCode::UnknownField,
                    ErrorCode::MissingField,
                    ErrorCode::InvalidField,
                ]);
            }
            for code in common {
                add_error_response(responses, code);
            }
        }
    }
}

/// Adds `code` to the response of its status, creating it if needed.
fn add_error_response(responses: &mut Value, code: ErrorCode) {
    let status = code.status().as_u16().to_string();
    let line = code.doc_line();
    let response = &mut responses[status.as_str()];
    if response.is_null() {
        *response = json!({
            "description": line,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        });
        return;
    }
    let description = response["description"].as_str().unwrap_or_default();
    if !description.contains(&format!("`{}`", code.as_str())) {
        response["description"] = json!(format!("{description}; {line}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_route_and_error() {
        let doc = openapi();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/node",
            "/api/v1/peers",
            "/api/v1/listings",
            "/api/v1/listings/{id}",
            "/api/v1/blobs",
            "/api/v1/blobs/{hash}",
            "/api/v1/agreements",
            "/api/v1/agreements/{id}",
            "/api/v1/agreements/{id}/counter",
            "/api/v1/agreements/{id}/accept",
            "/api/v1/agreements/{id}/decline",
            "/api/v1/agreements/{id}/withdraw",
            "/api/v1/agreements/{id}/pending",
            "/api/v1/profile",
            "/api/v1/profile/{author}",
            "/api/v1/meshes",
            "/api/v1/meshes/join",
            "/api/v1/meshes/{id}",
            "/api/v1/meshes/{id}/invite",
            "/api/v1/events",
            "/api/v1/openapi.json",
            "/metrics",
        ] {
            assert!(paths.contains_key(path), "{path} is undocumented");
        }
        let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .expect("the codes are an enum");
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        for schema in [
            "ListingInput",
            "ListingJson",
            "EventJson",
            "ErrorBody",
            "NodeJson",
        ] {
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} has no schema"
            );
        }
        let events = &doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"];
        assert!(events["text/event-stream"].is_object(), "{events}");
        let post = &doc["paths"]["/api/v1/listings"]["post"]["responses"];
        for status in [
            "201", "400", "401", "403", "409", "413", "415", "422", "500",
        ] {
            assert!(post[status].is_object(), "POST /listings lacks {status}");
        }
        let propose = &doc["paths"]["/api/v1/agreements"]["post"]["responses"];
        for (status, code) in [
            ("201", None),
            ("202", None),
            ("400", Some(ErrorCode::IdPrefixTooShort)),
            ("404", Some(ErrorCode::UnknownListing)),
            ("409", Some(ErrorCode::Overlaps)),
            ("409", Some(ErrorCode::Refused)),
            ("422", Some(ErrorCode::InvalidTerms)),
            ("422", Some(ErrorCode::UnknownField)),
            ("429", Some(ErrorCode::TooMany)),
            ("503", Some(ErrorCode::NetworkUnavailable)),
        ] {
            let response = &propose[status];
            assert!(response.is_object(), "POST /agreements lacks {status}");
            if let Some(code) = code {
                let text = response["description"].as_str().unwrap_or_default();
                assert!(text.contains(&format!("`{code}`")), "{status}: {text}");
            }
        }
        let accept = &doc["paths"]["/api/v1/agreements/{id}/accept"]["post"];
        assert_ne!(accept["requestBody"]["required"], json!(true), "{accept}");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
