//! The local HTTP API under `/api/v1` (DESIGN §7): JSON in and out, every call
//! authenticated with the node's bearer token, requests for any other `Host`
//! refused (DNS rebinding), no CORS, bodies capped ([`MAX_BODY`]; photo uploads
//! [`MAX_UPLOAD`], on their route only). Handlers go through
//! [`Node`] only.
//!
//! Every route is registered with `OpenApiRouter::routes(routes!(…))`, so the
//! OpenAPI 3.1 document ([`openapi`], served at `/api/v1/openapi.json`) is
//! generated from the handlers and their types and no route exists
//! undocumented.
//!
//! - `extract`: bodies, query strings and path ids, parsed once into types;
//! - [`error`]: [`ErrorCode`](error::ErrorCode) and the error answer;
//! - `listings`, `agreements`, `reviews`, `blobs` (photos), `meshes`, `node` (the
//!   node, peers, profiles, `/metrics`, this document), `events`: the handlers,
//!   by resource;
//! - [`json`]: every request and response type; `convert`: between them and
//!   records; `terms`: between them and agreements (terms per kind, events);
//! - `document`: the OpenAPI document, generated from the routes.
//!
//! Authentication is one layer ([`authorize`]) so the web page's cookie, when it
//! comes, is a second way into the same check.

mod agreements;
mod blobs;
mod convert;
mod document;
pub mod error;
mod events;
mod extract;
pub mod json;
mod listings;
mod meshes;
mod node;
mod reviews;
mod terms;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use subtle::ConstantTimeEq;

pub use convert::{ResolvedPatch, parse_rfc3339, rfc3339};
pub use error::{ApiError, ErrorCode};

use crate::Node;

/// Largest request body accepted (a listing is at most 32 KiB signed), on
/// every route but `POST /blobs`.
pub const MAX_BODY: usize = 64 * 1024;

/// Largest photo upload accepted by `POST /blobs` (a phone's photo, before it
/// is normalised to at most 512 KiB).
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;

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

pub use document::openapi;

/// The API router.
pub fn router(state: ApiState) -> Router {
    let (router, document) = document::parts();
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
