//! This node: its state, its peers, profiles, `/metrics`, and the OpenAPI
//! document itself.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, author};
use super::json::{
    BlockedPeerJson, BlockedPeersJson, ErrorBody, NodeJson, PeersJson, ProfileInput, ProfileJson,
    ReachabilityJson, StoreJson, UnblockedJson,
};
use super::{ApiState, Document};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(node_info))
        .routes(routes!(list_peers))
        .routes(routes!(blocked_peers))
        .routes(routes!(unblock_peer))
        .routes(routes!(set_profile))
        .routes(routes!(show_profile))
        .routes(routes!(metrics))
        .routes(routes!(openapi_document))
}

/// This node
///
/// Its peer id, author, addresses, area, meshes, currency, version, uptime and
/// catch-up progress.
#[utoipa::path(
    get,
    path = "/api/v1/node",
    tag = "node",
    responses(
        (status = 200, description = "This node", body = NodeJson),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn node_info(State(state): State<ApiState>) -> ApiResult<Json<NodeJson>> {
    let node = state.node();
    let listen = node.listen_addresses().await?;
    Ok(Json(NodeJson {
        peer_id: node.peer_id().to_string(),
        author: node.author().to_string(),
        listen: listen.iter().map(ToString::to_string).collect(),
        area: node.config().area.as_ref().map(ToString::to_string),
        meshes: node
            .listening_topics()
            .iter()
            .filter_map(|t| t.mesh_id())
            .map(|m| m.as_str().to_owned())
            .collect(),
        currency: node.config().currency.code().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.uptime_secs(),
        sync: node.sync_progress(),
        reachability: ReachabilityJson::from(node.reachability().await?),
        health: node.health(),
        store: StoreJson {
            record_bytes: node.store().record_bytes(),
            budget_bytes: node.config().store_budget,
            dropped_cells: node
                .dropped_cells()
                .iter()
                .map(ToString::to_string)
                .collect(),
        },
        clock: node.clock_skew(),
    }))
}

/// Connected peers
#[utoipa::path(
    get,
    path = "/api/v1/peers",
    tag = "node",
    responses(
        (status = 200, description = "Their peer ids", body = PeersJson),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn list_peers(State(state): State<ApiState>) -> ApiResult<Json<PeersJson>> {
    let peers = state.node().peers().await?;
    Ok(Json(PeersJson {
        peers: peers.iter().map(ToString::to_string).collect(),
    }))
}

/// Blocked peers
///
/// The peers blocked for misbehaviour: why, and until when.
#[utoipa::path(
    get,
    path = "/api/v1/peers/blocked",
    tag = "node",
    responses(
        (status = 200, description = "The blocked peers", body = BlockedPeersJson),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn blocked_peers(State(state): State<ApiState>) -> ApiResult<Json<BlockedPeersJson>> {
    let now = std::time::SystemTime::now();
    let blocked = state.node().blocked_peers().await?;
    Ok(Json(BlockedPeersJson {
        blocked: blocked
            .iter()
            .map(|b| BlockedPeerJson {
                peer: b.peer.to_string(),
                reason: block_reason(b.reason),
                until: b.remaining.map(|r| {
                    let at = (now + r)
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    crate::api::rfc3339(swapmesh_protocol::Timestamp(at))
                }),
            })
            .collect(),
    }))
}

/// Why a peer is blocked, in words.
fn block_reason(reason: swapmesh_net::BlockReason) -> String {
    match reason {
        swapmesh_net::BlockReason::Misbehaviour(what) => {
            format!("misbehaviour: {}", what.name())
        }
        _ => "requested".to_owned(),
    }
}

/// Unblock a peer
///
/// Unblocks a blocked peer (by its id, or a start of it that names one
/// blocked peer), forgets its misbehaviour points and dials it again at the
/// addresses this node knows for it.
#[utoipa::path(
    delete,
    path = "/api/v1/peers/blocked/{peer}",
    tag = "node",
    params(("peer" = String, Path, description = "A blocked peer's id, or a start of it",
        example = "12D3KooWQf")),
    responses(
        (status = 200, description = "Unblocked", body = UnblockedJson),
        (status = 400, description = "`id_prefix_too_short`: the start names several blocked peers", body = ErrorBody),
        (status = 404, description = "`peer_not_blocked`", body = ErrorBody),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn unblock_peer(
    State(state): State<ApiState>,
    Path(given): Path<String>,
) -> ApiResult<Json<UnblockedJson>> {
    let blocked = state.node().blocked_peers().await?;
    let matching: Vec<_> = blocked
        .iter()
        .filter(|b| b.peer.to_string().starts_with(&given))
        .collect();
    let peer = match matching.as_slice() {
        [one] if !given.is_empty() => one.peer,
        [] | [_] => {
            return Err(ApiError::new(
                ErrorCode::PeerNotBlocked,
                format!("no blocked peer is {given:?} or starts with it"),
            ));
        }
        several => {
            return Err(ApiError::new(
                ErrorCode::IdPrefixTooShort,
                format!(
                    "{given:?} starts {} blocked peers' ids: give more of it",
                    several.len()
                ),
            ));
        }
    };
    if !state.node().unblock_peer(peer).await? {
        return Err(ApiError::new(
            ErrorCode::PeerNotBlocked,
            format!("{peer} is no longer blocked"),
        ));
    }
    Ok(Json(UnblockedJson {
        unblocked: peer.to_string(),
    }))
}

/// Set our profile
///
/// Publishes a new version of our profile; it replaces the old one everywhere.
#[utoipa::path(
    put,
    path = "/api/v1/profile",
    tag = "profiles",
    request_body = ProfileInput,
    responses(
        (status = 200, description = "The profile as published", body = ProfileJson),
        (status = 422, description = "`invalid_record`: the profile breaks a protocol rule (`rule`, e.g. `bad_profile`); `invalid_field`: `mail_peers` over 4 or not author keys", body = ErrorBody),
    )
)]
async fn set_profile(
    State(state): State<ApiState>,
    Body(input): Body<ProfileInput>,
) -> ApiResult<Json<ProfileJson>> {
    let profile = input.into_profile(state.node())?;
    let verified = state.node().set_profile(profile).await?;
    let body = verified.body();
    match &body.content {
        swapmesh_protocol::Content::Profile(p) => {
            let mut json = ProfileJson::of(body.author, body.seq, p);
            json.trust = Some(super::trust::trust_json(state.node(), &body.author));
            Ok(Json(json))
        }
        _ => Err(ApiError::new(
            ErrorCode::Internal,
            "the published record is not a profile",
        )),
    }
}

/// Show a profile
#[utoipa::path(
    get,
    path = "/api/v1/profile/{author}",
    tag = "profiles",
    params(("author" = String, Path, description = "The author (64 hex)", example = "0101010101010101010101010101010101010101010101010101010101010101")),
    responses(
        (status = 200, description = "The profile", body = ProfileJson),
        (status = 400, description = "`invalid_author`: not 64 lower-case hex characters", body = ErrorBody),
        (status = 404, description = "`profile_not_found`: no profile of this author is held here", body = ErrorBody),
    )
)]
async fn show_profile(
    State(state): State<ApiState>,
    Path(text): Path<String>,
) -> ApiResult<Json<ProfileJson>> {
    let author = author("author", &text)?;
    let (version, profile) = state.node().profile(author)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ProfileNotFound,
            format!("no profile of {author} is held here"),
        )
    })?;
    let mut json = ProfileJson::of(author, version, &profile);
    json.trust = Some(super::trust::trust_json(state.node(), &author));
    Ok(Json(json))
}

/// Metrics
///
/// OpenMetrics text for Prometheus: libp2p's metrics and the node's own
/// counters (gossip verdicts by reason, sync sessions and records, peers).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "node",
    responses(
        (status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 503, description = "`network_unavailable`", body = ErrorBody),
    )
)]
async fn metrics(State(state): State<ApiState>) -> ApiResult<impl IntoResponse> {
    let text = state.node().metrics_text().await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

/// This document
///
/// The OpenAPI 3.1 description of this API, generated from its handlers and
/// types.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "node",
    responses((status = 200, description = "The OpenAPI document", body = serde_json::Value))
)]
async fn openapi_document(Extension(document): Extension<Document>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.json(),
    )
}
