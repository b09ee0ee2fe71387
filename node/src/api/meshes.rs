//! `/meshes`: the named meshes this node is in, creating one, its invite,
//! joining with an invite, leaving.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::ApiResult;
use super::extract::{Body, mesh_id};
use super::json::{CreateMesh, ErrorBody, JoinMesh, MeshInvite, MeshJson, MeshKindJson, MeshList};
use crate::Node;
use crate::invite::MeshInfo;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_meshes, create_mesh))
        .routes(routes!(join_mesh))
        .routes(routes!(leave_mesh))
        .routes(routes!(mesh_invite))
}

/// List meshes
///
/// The named meshes this node is in, open and private, with their kind and
/// (for a private mesh, as its members know it) name.
#[utoipa::path(
    get,
    path = "/api/v1/meshes",
    tag = "meshes",
    responses((status = 200, description = "The meshes", body = MeshList))
)]
async fn list_meshes(State(state): State<ApiState>) -> Json<MeshList> {
    let meshes = state
        .node()
        .named_meshes()
        .into_iter()
        .map(mesh_json)
        .collect();
    Json(MeshList { meshes })
}

fn kind(info: &MeshInfo) -> MeshKindJson {
    if info.private {
        MeshKindJson::Private
    } else {
        MeshKindJson::Open
    }
}

fn mesh_json(info: MeshInfo) -> MeshJson {
    MeshJson {
        id: info.id.to_string(),
        kind: kind(&info),
        discoverable: info.discoverable,
        name: info.name,
    }
}

/// The mesh `id` as this node knows it.
fn info_of(node: &Node, id: &swapmesh_protocol::MeshId) -> Option<MeshInfo> {
    node.named_meshes().into_iter().find(|m| m.id == *id)
}

/// Create a mesh
///
/// Creates a named mesh, joins it, and answers with an invite to give to
/// neighbours: a private mesh (a fresh key, carried only by its invites)
/// unless `open` is true (a fresh id anyone may join).
#[utoipa::path(
    post,
    path = "/api/v1/meshes",
    tag = "meshes",
    request_body = CreateMesh,
    responses(
        (status = 201, description = "The mesh and its invite", body = MeshInvite),
        (status = 422, description = "`invalid_invite`: the name cannot go into an invite (e.g. too long); `invalid_field`: `discoverable` false for an open mesh", body = ErrorBody),
        (status = 503, description = "`no_address_to_share`: the node listens nowhere yet; `network_unavailable`", body = ErrorBody),
    )
)]
async fn create_mesh(
    State(state): State<ApiState>,
    Body(input): Body<CreateMesh>,
) -> ApiResult<(StatusCode, Json<MeshInvite>)> {
    let discoverable = input.discoverable.unwrap_or(true);
    if input.open && !discoverable {
        return Err(crate::api::error::ApiError::field(
            crate::api::error::ErrorCode::InvalidField,
            "discoverable",
            "an open mesh is always discoverable",
        ));
    }
    let (id, invite) = if input.open {
        state.node().create_mesh(&input.name, true).await?
    } else {
        state
            .node()
            .create_private_mesh(&input.name, discoverable)
            .await?
    };
    Ok((
        StatusCode::CREATED,
        Json(MeshInvite {
            id: id.to_string(),
            name: Some(input.name),
            kind: if input.open {
                MeshKindJson::Open
            } else {
                MeshKindJson::Private
            },
            discoverable,
            invite,
        }),
    ))
}

/// Join a mesh
///
/// Joins the mesh of an invite, remembers it and its name, and dials the
/// invite's peers.
#[utoipa::path(
    post,
    path = "/api/v1/meshes/join",
    tag = "meshes",
    request_body = JoinMesh,
    responses(
        (status = 200, description = "The mesh joined", body = MeshJson),
        (status = 422, description = "`invalid_invite`: the invite is mistyped or altered", body = ErrorBody),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn join_mesh(
    State(state): State<ApiState>,
    Body(input): Body<JoinMesh>,
) -> ApiResult<Json<MeshJson>> {
    let id = state.node().join_invite(input.invite.trim()).await?;
    let info = info_of(state.node(), &id).ok_or_else(|| {
        // Left again by another call meanwhile.
        crate::error::NodeError::NotInMesh(id.to_string())
    })?;
    Ok(Json(mesh_json(info)))
}

/// Leave a mesh
#[utoipa::path(
    delete,
    path = "/api/v1/meshes/{id}",
    tag = "meshes",
    params(("id" = String, Path, description = "The mesh id", example = "nosuchmesh0")),
    responses(
        (status = 200, description = "The mesh left; the records held for it alone (not our own, nor the receipts and reviews of our agreements) are forgotten", body = MeshJson),
        (status = 400, description = "`invalid_mesh_id`: not 1-32 of a-z and 0-9", body = ErrorBody),
        (status = 404, description = "`mesh_not_found`: this node is not in this mesh", body = ErrorBody),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn leave_mesh(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MeshJson>> {
    let mesh = mesh_id("id", &id)?;
    let info = info_of(state.node(), &mesh);
    state.node().leave_mesh(&mesh).await?;
    // Left: its name (and a private mesh's key) is forgotten.
    let info = info.ok_or_else(|| crate::error::NodeError::NotInMesh(id.clone()))?;
    Ok(Json(MeshJson {
        name: None,
        ..mesh_json(info)
    }))
}

/// A mesh's invite
///
/// An invite to a mesh this node is in, with this node's addresses.
#[utoipa::path(
    get,
    path = "/api/v1/meshes/{id}/invite",
    tag = "meshes",
    params(("id" = String, Path, description = "The mesh id", example = "nosuchmesh0")),
    responses(
        (status = 200, description = "The invite", body = MeshInvite),
        (status = 400, description = "`invalid_mesh_id`: not 1-32 of a-z and 0-9", body = ErrorBody),
        (status = 404, description = "`mesh_not_found`: this node is not in this mesh", body = ErrorBody),
        (status = 503, description = "`no_address_to_share`; `network_unavailable`", body = ErrorBody),
    )
)]
async fn mesh_invite(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MeshInvite>> {
    let mesh = mesh_id("id", &id)?;
    let invite = state.node().invite(&mesh).await?;
    let info = info_of(state.node(), &mesh)
        .ok_or_else(|| crate::error::NodeError::NotInMesh(id.clone()))?;
    Ok(Json(MeshInvite {
        id,
        kind: kind(&info),
        discoverable: info.discoverable,
        name: info.name,
        invite,
    }))
}
