//! The web page the node serves (DESIGN §7): server-rendered askama templates
//! (auto-escaped; `node/templates/`), one stylesheet and one small script
//! compiled in, no CDN and no build step. Every page goes through the same
//! [`Node`](crate::Node) calls as the API.
//!
//! - [`sessions`]: one-time sign-in links and the cookie sessions they start;
//! - `pages`: the pages and their view models;
//! - `form`: [`CsrfForm`](form::CsrfForm), the only way a page handler reads a
//!   form: it refuses a form without the session's CSRF token.
//!
//! Signing in and the checks on every request are in the API's `authorize`
//! layer (Host, then a session cookie or the bearer token; a page without
//! either sends the browser to `/login`; a write from another origin is
//! refused there, one without the CSRF token by [`CsrfForm`](form::CsrfForm)).
//! Every page answers with `Content-Security-Policy: default-src 'self';
//! frame-ancestors 'none'` (no inline script or style), `Referrer-Policy:
//! same-origin` and `X-Content-Type-Options: nosniff`. Not `no-referrer`:
//! under it a browser sends `Origin: null` with the page's own form posts,
//! which the origin check then refuses; `same-origin` still sends no referrer
//! to anyone but this node.

mod agreements;
pub(crate) mod form;
mod me;
mod meshes;
mod own;
mod pages;
mod people;
pub mod sessions;
mod terms;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

pub use sessions::{LinkError, LoginCode, NewSession, RedeemError, WebSessions};

use crate::api::ApiState;

/// Largest listing form with its photos (`/new`, `/l/{id}/edit`): a few
/// phone photos; each photo is also held to the API's 16 MiB upload limit.
pub(crate) const MAX_PAGE_UPLOAD: usize = 64 * 1024 * 1024;

/// What the `authorize` layer hands a page about its session.
#[derive(Debug, Clone)]
pub(crate) struct PageSession {
    /// The token the page's forms carry (empty when let in by the bearer
    /// token: such a caller's form writes are refused).
    pub(crate) csrf: String,
}

/// The pages (behind a session) and the assets (public).
pub(crate) fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(pages::browse))
        .route("/l/{id}", get(pages::listing))
        .route(
            "/new",
            get(own::new_form)
                .post(own::create)
                .layer(DefaultBodyLimit::max(MAX_PAGE_UPLOAD)),
        )
        .route("/me", get(me::me))
        .route("/me/profile", post(me::update_profile))
        .route(
            "/l/{id}/edit",
            get(own::edit_form)
                .post(own::update)
                .layer(DefaultBodyLimit::max(MAX_PAGE_UPLOAD)),
        )
        .route("/l/{id}/propose", post(agreements::propose))
        .route("/l/{id}/pause", post(own::pause))
        .route("/l/{id}/withdraw", post(own::withdraw))
        .route("/meshes", get(meshes::meshes))
        .route("/meshes/qr", get(meshes::qr))
        .route("/meshes/create", post(meshes::create))
        .route("/meshes/join", post(meshes::join))
        .route("/meshes/leave", post(meshes::leave))
        .route("/agreements", get(agreements::inbox))
        .route("/p/{author}", get(people::person))
        .route("/a/{id}", get(agreements::agreement))
        .route("/a/{id}/{action}", post(agreements::act))
        .route("/a/{id}/review", post(agreements::review))
        .route("/a/{id}/pending/stop", post(agreements::stop_pending))
        .route("/status", get(pages::status))
        .route("/status/revoke", post(pages::revoke))
        .route("/assets/app.css", get(pages::css))
        .route("/assets/app.js", get(pages::js))
}

/// Is `path` a page (as opposed to the API or a public path)?
pub(crate) fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/" | "/status" | "/new" | "/me" | "/meshes" | "/agreements"
    ) || path.starts_with("/l/")
        || path.starts_with("/a/")
        || path.starts_with("/p/")
        || path.starts_with("/status/")
        || path.starts_with("/meshes/")
        || path.starts_with("/me/")
}

/// Is `path` served to anyone who passes the Host check (the assets)?
pub(crate) fn is_asset(path: &str) -> bool {
    path.starts_with("/assets/")
}

/// The headers every page and asset carries.
pub(crate) fn secure(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
