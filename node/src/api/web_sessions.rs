//! Signing the web page in and out: `POST /api/v1/login-links` (bearer token
//! only) issues a one-time link, `/login?code=` redeems it and sets the
//! session cookie, `/login` alone takes the API token typed into a form,
//! `/logout` ends the session, `DELETE /api/v1/web-sessions` ends them all.
//! Also the session check of [`authorize`](super::authorize).
//!
//! The cookie: `swapmesh_<port>=<256 random bits>; HttpOnly; SameSite=Strict;
//! Path=/; Max-Age=30 days`. A Strict cookie is not sent on a navigation that
//! another site began, so `/login?code=` answers a page that moves on to `/`
//! itself (a `meta` refresh: no inline script under the page's CSP) rather
//! than a redirect.

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::OptionalBody;
use super::json::{ErrorBody, LoginLinkInput, LoginLinkJson, RevokedJson, WebSessionJson};
use super::{ApiState, Auth};
use crate::web::sessions::SESSION_IDLE_SECS;
use crate::web::{LinkError, NewSession, RedeemError, WebSessions};

/// The header a web session's write carries its CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create_login_link))
        .routes(routes!(revoke_web_sessions, current_session))
}

/// `/login` and `/logout`: beside the API, behind the Host check alone.
pub(super) fn pages() -> Router<ApiState> {
    Router::new()
        .route("/login", get(login_page).post(login_with_token))
        .route("/logout", post(logout))
}

/// Paths that need no token or session (the Host check still applies).
pub(super) fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/logout")
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A request with a session cookie: the session must be live, and a write
/// must come from this node's origin with the session's CSRF token.
pub(super) fn check_session(
    state: &ApiState,
    request: &Request,
    host: &str,
    cookie: &str,
) -> Result<Auth, ApiError> {
    let csrf = state.node().web_sessions().check(cookie)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingToken,
            "the web session has ended: sign in again (`swapmesh open`)",
        )
    })?;
    if is_safe(request.method()) {
        return Ok(Auth::Session);
    }
    let headers = request.headers();
    let page = crate::web::is_page(request.uri().path());
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin != Some(format!("http://{host}").as_str()) {
        return Err(ApiError::new(
            ErrorCode::ForeignOrigin,
            format!("a write from origin {origin:?}, not this node's page"),
        ));
    }
    if page {
        // A page's form carries its token in the body: `CsrfForm` checks it.
        return Ok(Auth::Session);
    }
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|t| t.to_str().ok())
        .unwrap_or("");
    if !WebSessions::csrf_matches(&csrf, given) {
        return Err(ApiError::new(
            ErrorCode::CsrfMismatch,
            "a write without this session's CSRF token (`X-CSRF-Token`)",
        ));
    }
    Ok(Auth::Session)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Create a sign-in link
///
/// A one-time link that signs a browser in to this node's web page, valid for
/// `login_link_ttl` (default 10 minutes). Bearer token only: a web session
/// cannot make more of itself.
#[utoipa::path(
    post,
    path = "/api/v1/login-links",
    tag = "web",
    request_body(content = Option<LoginLinkInput>, description = "Optional: the host the link names"),
    responses(
        (status = 201, description = "The link", body = LoginLinkJson),
        (status = 403, description = "`bearer_only`: asked with a web session", body = ErrorBody),
        (status = 422, description = "`unknown_host`: not one of the API's addresses", body = ErrorBody),
    )
)]
async fn create_login_link(
    State(state): State<ApiState>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
    OptionalBody(input): OptionalBody<LoginLinkInput>,
) -> ApiResult<(StatusCode, Json<LoginLinkJson>)> {
    if auth != Auth::Bearer {
        return Err(ApiError::new(
            ErrorCode::BearerOnly,
            "sign-in links are made with the API token (`swapmesh open`), not from the page",
        ));
    }
    let host = match input.host {
        Some(host) if state.is_own_host(&host) => host,
        Some(host) => {
            return Err(ApiError::field(
                ErrorCode::UnknownHost,
                "host",
                format!("{host:?} is not one of this node's API addresses (add it to api_hosts)"),
            ));
        }
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    };
    let sessions = state.node().web_sessions();
    let code = sessions.issue_link();
    Ok((
        StatusCode::CREATED,
        Json(LoginLinkJson {
            url: format!("http://{host}/login?code={}", code.0),
            expires_in_secs: sessions.link_ttl().as_secs(),
        }),
    ))
}

/// Sign every browser out
///
/// Ends every web session of this node (and forgets unused sign-in links).
/// The API token keeps working.
#[utoipa::path(
    delete,
    path = "/api/v1/web-sessions",
    tag = "web",
    responses((status = 200, description = "How many sessions ended", body = RevokedJson))
)]
async fn revoke_web_sessions(State(state): State<ApiState>) -> ApiResult<Json<RevokedJson>> {
    let revoked = state.node().web_sessions().revoke_all().await?;
    Ok(Json(RevokedJson { revoked }))
}

/// How the caller is signed in
///
/// `via`: `bearer` or `session`; with a session, the CSRF token its writes
/// carry in `X-CSRF-Token` (readable by this node's own pages only: the API
/// sends no CORS headers).
#[utoipa::path(
    get,
    path = "/api/v1/web-sessions",
    tag = "web",
    responses((status = 200, description = "The way in", body = WebSessionJson))
)]
async fn current_session(
    State(state): State<ApiState>,
    Extension(auth): Extension<Auth>,
    headers: HeaderMap,
) -> ApiResult<Json<WebSessionJson>> {
    if auth != Auth::Session {
        return Ok(Json(WebSessionJson {
            via: "bearer".to_owned(),
            csrf_token: None,
        }));
    }
    let csrf_token = match cookie_value(&headers, state.cookie_name()) {
        Some(cookie) => state.node().web_sessions().check(cookie)?,
        None => None,
    };
    Ok(Json(WebSessionJson {
        via: "session".to_owned(),
        csrf_token,
    }))
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    token: String,
}

/// `/login?code=`: redeems a link; `/login` alone: the form for the token.
async fn login_page(State(state): State<ApiState>, Query(query): Query<LoginQuery>) -> Response {
    let Some(code) = query.code else {
        return page(StatusCode::OK, TOKEN_FORM, None);
    };
    match state.node().web_sessions().redeem(&code).await {
        Ok(session) => signed_in(&state, &session),
        Err(RedeemError::Link(e)) => {
            let status = StatusCode::UNAUTHORIZED;
            let text = match e {
                LinkError::Unknown => "This sign-in link is unknown or was used already.",
                LinkError::Expired => "This sign-in link has expired.",
            };
            page(
                status,
                &format!("<p>{text} Ask for a new one with <code>swapmesh open</code>.</p>"),
                None,
            )
        }
        Err(RedeemError::Node(e)) => ApiError::from(e).into_response(),
    }
}

/// `POST /login` with the API token typed into the form.
async fn login_with_token(State(state): State<ApiState>, Form(form): Form<TokenForm>) -> Response {
    if !super::is_token(&state, form.token.trim()) {
        return page(
            StatusCode::UNAUTHORIZED,
            &format!("<p>That is not this node's API token.</p>{TOKEN_FORM}"),
            None,
        );
    }
    match state.node().web_sessions().start().await {
        Ok(session) => signed_in(&state, &session),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The sign-out form: the session's CSRF token.
#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends this browser's session and clears its cookie. Only
/// with the session's CSRF token: another page (even on another port of this
/// machine, which is same-site) cannot sign the browser out.
async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(cookie) = cookie_value(&headers, state.cookie_name()) {
        let sessions = state.node().web_sessions();
        match sessions.check(cookie) {
            Ok(Some(csrf)) if !WebSessions::csrf_matches(&csrf, &form.csrf) => {
                return page(
                    StatusCode::FORBIDDEN,
                    "<p>This sign-out did not come from this node's page.</p>",
                    None,
                );
            }
            Ok(_) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
        if let Err(e) = sessions.end(cookie).await {
            return ApiError::from(e).into_response();
        }
    }
    let clear = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        state.cookie_name()
    );
    page(StatusCode::OK, "<p>Signed out.</p>", Some(clear))
}

/// The answer that sets the cookie and moves on to `/`.
fn signed_in(state: &ApiState, session: &NewSession) -> Response {
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_IDLE_SECS}",
        state.cookie_name(),
        session.cookie
    );
    let mut response = page(
        StatusCode::OK,
        r#"<meta http-equiv="refresh" content="0; url=/"><p>Signed in. <a href="/">Go on</a>.</p>"#,
        Some(cookie),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const TOKEN_FORM: &str = r#"<form method="post" action="/login"><label for="token">API token (the file api-token in the data directory)</label> <input id="token" name="token" type="password" autocomplete="off" required> <button type="submit">Sign in</button></form>"#;

/// A small page with the headers every page of the node carries (and no
/// referrer at all).
fn page(status: StatusCode, body: &str, cookie: Option<String>) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>swapmesh: sign in</title></head><body><main><h1>swapmesh</h1>{body}</main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    crate::web::secure(&mut response);
    let headers = response.headers_mut();
    // The URL of `/login?code=` holds the code: no referrer at all from here.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}
