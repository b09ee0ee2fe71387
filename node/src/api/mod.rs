//! The local HTTP API under `/api/v1` (DESIGN §7): JSON in and out, every call
//! authenticated with the node's bearer token, requests for any other `Host`
//! refused (DNS rebinding), no CORS, bodies capped. Handlers go through
//! [`Node`] only.
//!
//! Every route is registered with `OpenApiRouter::routes(routes!(…))`, so the
//! OpenAPI 3.1 document ([`openapi`], served at `/api/v1/openapi.json`) is
//! generated from the handlers and their types and no route exists
//! undocumented.
//!
//! - `extract`: bodies, query strings and path ids, parsed once into types;
//! - [`error`]: [`ErrorCode`](error::ErrorCode) and the error answer;
//! - `listings`, `meshes`, `node` (the node, peers, profiles, `/metrics`, this
//!   document), `events`: the handlers, by resource;
//! - [`json`]: every request and response type; `convert`: between them and
//!   records.
//!
//! Authentication is one layer ([`authorize`]) so the web page's cookie, when it
//! comes, is a second way into the same check.

mod convert;
pub mod error;
mod events;
mod extract;
pub mod json;
mod listings;
mod meshes;
mod node;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;

pub use convert::{ResolvedPatch, parse_rfc3339, rfc3339};
pub use error::{ApiError, ErrorCode};

use crate::Node;

/// Largest request body accepted (a listing is at most 32 KiB signed).
pub const MAX_BODY: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<StateInner>,
}

struct StateInner {
    node: Node,
    token: String,
    hosts: Vec<String>,
    started: Instant,
}

impl ApiState {
    /// State for a node's API: its token, and the `Host` values it answers to:
    /// the address it serves on, its loopback names (`localhost:<port>`, and
    /// `127.0.0.1:<port>` / `[::1]:<port>` when it serves on all interfaces, as in
    /// a container), and any `extra_hosts` configured (e.g. `swapmesh:7878` for a
    /// Prometheus container).
    pub fn new(
        node: Node,
        token: String,
        served_on: std::net::SocketAddr,
        extra_hosts: &[String],
    ) -> Self {
        let port = served_on.port();
        let mut hosts = vec![served_on.to_string()];
        if served_on.ip().is_loopback() || served_on.ip().is_unspecified() {
            hosts.push(format!("localhost:{port}"));
        }
        if served_on.ip().is_unspecified() {
            hosts.push(format!("127.0.0.1:{port}"));
            hosts.push(format!("[::1]:{port}"));
        }
        hosts.extend(extra_hosts.iter().cloned());
        Self {
            inner: Arc::new(StateInner {
                node,
                token,
                hosts,
                started: Instant::now(),
            }),
        }
    }

    pub(crate) fn node(&self) -> &Node {
        &self.inner.node
    }

    pub(crate) fn uptime_secs(&self) -> u64 {
        self.inner.started.elapsed().as_secs()
    }
}

/// The OpenAPI document as served, shared by the handler that serves it.
#[derive(Clone)]
pub(crate) struct Document(Arc<String>);

impl Document {
    pub(crate) fn json(&self) -> String {
        self.0.as_str().to_owned()
    }
}

/// Every route, with the document generated from them.
fn parts() -> (Router<ApiState>, Value) {
    use utoipa::openapi::{Info, OpenApi, Paths};
    let base = OpenApi::new(Info::new("swapmesh node API", "1"), Paths::new());
    let (router, document) = OpenApiRouter::with_openapi(base)
        .merge(listings::routes())
        .merge(meshes::routes())
        .merge(node::routes())
        .merge(events::routes())
        .split_for_parts();
    let mut document = serde_json::to_value(&document).expect("the document serialises");
    finish_document(&mut document);
    (router, document)
}

/// The OpenAPI 3.1 document of the API, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> Value {
    parts().1
}

/// The API router.
pub fn router(state: ApiState) -> Router {
    let (router, document) = parts();
    let document = Document(Arc::new(document.to_string()));
    router
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(document))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

async fn no_such_route(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchRoute,
        format!(
            "no route {} (see /api/v1/openapi.json)",
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not take {} (see /api/v1/openapi.json)",
            request.uri().path(),
            request.method()
        ),
    )
}

/// Host check, then the bearer token (compared in constant time).
async fn authorize(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if let Err(e) = check_request(&state, request.headers()) {
        return e.into_response();
    }
    next.run(request).await
}

fn check_request(state: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.inner.hosts.iter().any(|h| h == host) {
        return Err(ApiError::new(
            ErrorCode::ForbiddenHost,
            format!("host {host:?} is not this node's API address"),
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingToken,
                "missing `Authorization: Bearer <token>` (the token is in the data directory's api-token file)",
            )
        })?;
    let expected = state.inner.token.as_bytes();
    if !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(ApiError::new(ErrorCode::WrongToken, "wrong API token"));
    }
    Ok(())
}

/// What the generated document cannot know from one handler: the bearer
/// scheme, the errors every route can answer (authentication, the Host check,
/// the body extractor's), and the table of error codes.
fn finish_document(doc: &mut Value) {
    doc["info"]["description"] = json!(
        "The local API of a swapmesh node: listings, profiles, meshes, events. \
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
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            let mut common = vec![
                ErrorCode::MissingToken,
                ErrorCode::WrongToken,
                ErrorCode::ForbiddenHost,
                ErrorCode::Internal,
            ];
            if has_body {
                common.extend([
                    ErrorCode::MalformedJson,
                    ErrorCode::BodyTooLarge,
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
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
