//! The local HTTP API under `/api/v1` (DESIGN §7): JSON in and out, every call
//! authenticated with the node's bearer token, requests for any other `Host`
//! refused (DNS rebinding), no CORS, bodies capped.
//!
//! Authentication is one layer ([`authorize`]) so the web page's cookie, when it
//! comes, is a second way into the same check.

pub mod json;
mod openapi;
mod routes;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use subtle::ConstantTimeEq;

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

/// The API router.
pub fn router(state: ApiState) -> Router {
    routes::routes()
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// An error as the API returns it: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// One line a person can act on.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody {
                error: &self.message,
            }),
        )
            .into_response()
    }
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
            StatusCode::FORBIDDEN,
            format!("host {host:?} is not this node's API address"),
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing `Authorization: Bearer <token>` (the token is in the data directory's api-token file)",
            )
        })?;
    let expected = state.inner.token.as_bytes();
    if !bool::from(given.as_bytes().ct_eq(expected)) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong API token"));
    }
    Ok(())
}
