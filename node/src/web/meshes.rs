//! `/meshes`: the named meshes this node is in, each with its invite as text
//! and as an SVG QR code; creating, joining (only by a form posted from the
//! page: `/meshes/join?invite=` fills the form in and joins nothing) and
//! leaving.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use swapmesh_protocol::MeshId;

use super::PageSession;
use super::form::CsrfForm;
use super::pages::page;
use crate::api::ApiState;

/// A mesh as the page shows it.
struct MeshView {
    id: String,
    label: String,
    invite: Option<String>,
    /// Whether only holders of its invite may read and post.
    private: bool,
    /// Where the invite's QR code is served (an SVG from this node: the
    /// page's CSP allows no `data:` images).
    qr: Option<String>,
}

#[derive(Template)]
#[template(path = "meshes.html")]
struct MeshesPage {
    nav: &'static str,
    csrf: String,
    meshes: Vec<MeshView>,
    offered: String,
    error: Option<String>,
}

/// `GET /meshes` parameters: an invite to fill the join form in with.
#[derive(Debug, Default, Deserialize)]
pub(super) struct MeshesQuery {
    #[serde(default)]
    invite: String,
}

async fn render(
    state: &ApiState,
    csrf: String,
    offered: String,
    error: Option<String>,
) -> Response {
    let node = state.node();
    let mut meshes = Vec::new();
    for m in node.named_meshes() {
        let invite = node.invite(&m.id).await.ok();
        meshes.push(MeshView {
            id: m.id.to_string(),
            label: m.name.clone().unwrap_or_else(|| m.id.to_string()),
            private: m.private,
            qr: invite.as_ref().map(|_| format!("/meshes/qr?mesh={}", m.id)),
            invite,
        });
    }
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        &MeshesPage {
            nav: "meshes",
            csrf,
            meshes,
            offered,
            error,
        },
    )
}

/// `GET /meshes`.
pub(super) async fn meshes(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Query(query): Query<MeshesQuery>,
) -> Response {
    render(&state, session.csrf, query.invite, None).await
}

/// `GET /meshes/qr?mesh=`: the invite of a mesh we are in, as an SVG QR code.
pub(super) async fn qr(State(state): State<ApiState>, Query(query): Query<QrQuery>) -> Response {
    let Some(mesh) = MeshId::parse(&query.mesh) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(invite) = state.node().invite(&mesh).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(code) = QrCode::new(invite.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut response =
        ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], image).into_response();
    super::secure(&mut response);
    response
}

/// `GET /meshes/qr` parameters.
#[derive(Debug, Deserialize)]
pub(super) struct QrQuery {
    mesh: String,
}

/// The create form.
#[derive(Debug, Deserialize)]
pub(super) struct CreateForm {
    name: String,
    /// The "open" checkbox: present when ticked.
    #[serde(default)]
    open: Option<String>,
}

/// `POST /meshes/create`.
pub(super) async fn create(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let name = form.name.trim();
    if name.is_empty() {
        return render(
            &state,
            session.csrf,
            String::new(),
            Some("Give the mesh a name.".into()),
        )
        .await;
    }
    match state.node().create_mesh(name, form.open.is_some()).await {
        Ok(_) => Redirect::to("/meshes").into_response(),
        Err(e) => render(&state, session.csrf, String::new(), Some(e.to_string())).await,
    }
}

/// The join form.
#[derive(Debug, Deserialize)]
pub(super) struct JoinForm {
    invite: String,
}

/// `POST /meshes/join`.
pub(super) async fn join(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    CsrfForm(form): CsrfForm<JoinForm>,
) -> Response {
    match state.node().join_invite(form.invite.trim()).await {
        Ok(_) => Redirect::to("/meshes").into_response(),
        Err(e) => render(&state, session.csrf, form.invite, Some(e.to_string())).await,
    }
}

/// The leave form.
#[derive(Debug, Deserialize)]
pub(super) struct LeaveForm {
    mesh: String,
}

/// `POST /meshes/leave`.
pub(super) async fn leave(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    CsrfForm(form): CsrfForm<LeaveForm>,
) -> Response {
    let Some(mesh) = MeshId::parse(&form.mesh) else {
        return render(
            &state,
            session.csrf,
            String::new(),
            Some("No such mesh.".into()),
        )
        .await;
    };
    match state.node().leave_mesh(&mesh).await {
        Ok(()) => Redirect::to("/meshes").into_response(),
        Err(e) => render(&state, session.csrf, String::new(), Some(e.to_string())).await,
    }
}
