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
//! Authentication is one layer ([`authorize`]) with two ways in: the bearer
//! token (the CLI, programs), and the web page's session cookie (see
//! [`crate::web`]), whose writes also need the session's CSRF token in
//! `X-CSRF-Token` and this node's `Origin`. `/login` and `/logout` sit beside
//! `/api/v1` (`web_sessions`) behind the Host check alone.

pub(crate) mod agreements;
mod blobs;
mod convert;
mod document;
pub mod error;
mod events;
pub(crate) mod extract;
pub mod json;
mod listings;
mod mailbox;
mod meshes;
mod node;
pub(crate) mod reviews;
mod terms;
pub(crate) mod trust;
mod web_sessions;

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
    /// The token that reads `GET /metrics` and nothing else, if any.
    metrics_token: Option<String>,
    hosts: Vec<String>,
    /// The web session cookie's name: `swapmesh_<port>`, so that two nodes
    /// on one machine (same site, other ports) keep their sessions apart.
    cookie: String,
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
                metrics_token: None,
                hosts,
                cookie: format!("swapmesh_{port}"),
                started: Instant::now(),
            }),
        }
    }

    /// The same state, also taking `token` for `GET /metrics` (and nothing
    /// else): what Prometheus holds, with no write access. Call it before
    /// the state is cloned.
    pub fn with_metrics_token(mut self, token: String) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics_token = Some(token);
        }
        self
    }

    pub(crate) fn node(&self) -> &Node {
        &self.inner.node
    }

    /// The name of the web session cookie.
    pub(crate) fn cookie_name(&self) -> &str {
        &self.inner.cookie
    }

    /// Is `host` one of the addresses this API answers to?
    pub(crate) fn is_own_host(&self, host: &str) -> bool {
        self.inner.hosts.iter().any(|h| h == host)
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
        .merge(web_sessions::pages())
        .merge(crate::web::router())
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(document))
        .layer(middleware::from_fn_with_state(state.clone(), health_gate))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// While the node is degraded, every write is answered `503 degraded` (reads
/// go on); a call that failed to write turns it degraded (see
/// [`crate::health`]).
async fn health_gate(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if writes && let Some(why) = state.node().degraded() {
        return ApiError::new(
            ErrorCode::Degraded,
            format!("the node is degraded and takes no writes until its disk does: {why}"),
        )
        .into_response();
    }
    let response = next.run(request).await;
    if let Some(error::WriteFailed(reason)) = response.extensions().get() {
        state.node().api_write_failed(reason.clone());
    }
    response
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

/// How a request was let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// With the bearer token.
    Bearer,
    /// With the metrics token: `GET /metrics` only.
    Metrics,
    /// With a web session's cookie (and, for a write, its CSRF token).
    Session,
    /// Not at all: `/login` and `/logout`, behind the Host check alone.
    Public,
}

/// Host check, then the bearer token (compared in constant time) or a web
/// session; the way in goes to the handlers as an [`Auth`] extension, and to
/// the pages with their session's CSRF token. A page asked for without either
/// sends the browser to `/login`.
async fn authorize(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let page = crate::web::is_page(request.uri().path());
    match check_request(&state, &request) {
        Ok(auth) => {
            if page {
                let csrf = match auth {
                    Auth::Session => {
                        web_sessions::cookie_value(request.headers(), state.cookie_name())
                            .and_then(|c| state.node().web_sessions().check(c).ok().flatten())
                            .unwrap_or_default()
                    }
                    Auth::Bearer | Auth::Metrics | Auth::Public => String::new(),
                };
                request
                    .extensions_mut()
                    .insert(crate::web::PageSession { csrf });
            }
            request.extensions_mut().insert(auth);
            let mut response = next.run(request).await;
            if page {
                crate::web::secure(&mut response);
            }
            response
        }
        Err(e) if page && matches!(e.code(), ErrorCode::MissingToken | ErrorCode::WrongToken) => {
            let mut response = axum::response::Redirect::to("/login").into_response();
            crate::web::secure(&mut response);
            response
        }
        Err(e) => {
            let mut response = e.into_response();
            if page {
                crate::web::secure(&mut response);
            }
            response
        }
    }
}

fn check_request(state: &ApiState, request: &Request) -> Result<Auth, ApiError> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.is_own_host(host) {
        return Err(ApiError::new(
            ErrorCode::ForbiddenHost,
            format!("host {host:?} is not this node's API address"),
        ));
    }
    let path = request.uri().path();
    if web_sessions::is_public(path) || crate::web::is_asset(path) {
        return Ok(Auth::Public);
    }
    if !headers.contains_key(header::AUTHORIZATION)
        && let Some(cookie) = web_sessions::cookie_value(headers, state.cookie_name())
    {
        return web_sessions::check_session(state, request, host, cookie);
    }
    check_bearer(
        state,
        headers,
        request.method() == axum::http::Method::GET && path == "/metrics",
    )
}

fn check_bearer(state: &ApiState, headers: &HeaderMap, metrics: bool) -> Result<Auth, ApiError> {
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
    if bool::from(given.as_bytes().ct_eq(expected)) {
        return Ok(Auth::Bearer);
    }
    if let Some(metrics_token) = &state.inner.metrics_token
        && bool::from(given.as_bytes().ct_eq(metrics_token.as_bytes()))
    {
        if metrics {
            return Ok(Auth::Metrics);
        }
        return Err(ApiError::new(
            ErrorCode::WrongToken,
            "the metrics token reads GET /metrics only; everything else takes the API token",
        ));
    }
    Err(ApiError::new(ErrorCode::WrongToken, "wrong API token"))
}

/// Does `given` equal the API token (in constant time)?
pub(crate) fn is_token(state: &ApiState, given: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(state.inner.token.as_bytes()))
}
