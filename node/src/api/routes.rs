//! The handlers of `/api/v1`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::validate::OwnError;
use swapmesh_protocol::{AuthorKey, Geohash, ListingId, MeshId};
use swapmesh_store::{Cursor, Query};

use super::json::{ListingInput, ListingJson, ListingPatch, ProfileJson};
use super::{ApiError, ApiState};
use crate::NodeError;

pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/node", get(node_info))
        .route("/api/v1/peers", get(peers))
        .route("/api/v1/listings", get(search).post(create))
        .route(
            "/api/v1/listings/{id}",
            get(show).patch(update).delete(withdraw),
        )
        .route("/api/v1/profile", axum::routing::put(set_profile))
        .route("/api/v1/profile/{author}", get(show_profile))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/events", get(events))
        .route("/metrics", get(metrics))
        .route("/api/v1/meshes", get(list_meshes).post(create_mesh))
        .route("/api/v1/meshes/join", axum::routing::post(join_mesh))
        .route("/api/v1/meshes/{id}", axum::routing::delete(leave_mesh))
        .route("/api/v1/meshes/{id}/invite", get(mesh_invite))
}

type ApiResult<T> = Result<T, ApiError>;

/// `Json` whose rejections are JSON errors: 400 for bad syntax, 422 naming the
/// field for a wrong or unknown field, 413 for a body over the cap.
pub(crate) struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "request body is over the limit of {} bytes",
            super::MAX_BODY
        ),
        _ => rejection.body_text(),
    };
    ApiError::new(status, message)
}

/// A query string whose rejections are JSON errors (400).
pub(crate) struct Params<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e: QueryRejection| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let status = match &e {
            NodeError::Invalid(OwnError::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            NodeError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            NodeError::NoSuchListing(_) | NodeError::NotInMesh(_) => StatusCode::NOT_FOUND,
            NodeError::Invite(_) => StatusCode::UNPROCESSABLE_ENTITY,
            NodeError::ListingExists(_) | NodeError::Withdrawn(_) | NodeError::Superseded => {
                StatusCode::CONFLICT
            }
            NodeError::Network(_) | NodeError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            NodeError::Invalid(OwnError::Invalid(rule)) => {
                format!("invalid listing ({}): {rule}", rule.rule())
            }
            _ => e.to_string(),
        };
        ApiError::new(status, message)
    }
}

fn unprocessable(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{field}: {message}"),
    )
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeInfo {
    pub(crate) peer_id: String,
    pub(crate) author: String,
    pub(crate) listen: Vec<String>,
    pub(crate) area: Option<String>,
    pub(crate) meshes: Vec<String>,
    pub(crate) version: String,
    pub(crate) uptime_secs: u64,
    /// Catch-up sync: sessions running, records fetched of expected.
    pub(crate) sync: crate::sync::Progress,
}

async fn node_info(State(state): State<ApiState>) -> ApiResult<Json<NodeInfo>> {
    let node = state.node();
    let listen = node.listen_addresses().await?;
    Ok(Json(NodeInfo {
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
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.uptime_secs(),
        sync: node.sync_progress(),
    }))
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct PeersJson {
    pub(crate) peers: Vec<String>,
}

async fn peers(State(state): State<ApiState>) -> ApiResult<Json<PeersJson>> {
    let peers = state.node().peers().await?;
    Ok(Json(PeersJson {
        peers: peers.iter().map(ToString::to_string).collect(),
    }))
}

async fn create(
    State(state): State<ApiState>,
    Body(input): Body<ListingInput>,
) -> ApiResult<(StatusCode, Json<ListingJson>)> {
    let listing = input
        .into_listing()
        .map_err(|e| unprocessable(e.field, e.message))?;
    let verified = state.node().publish_listing(listing).await?;
    Ok((StatusCode::CREATED, Json(listing_json(&state, verified)?)))
}

fn listing_json(state: &ApiState, verified: swapmesh_protocol::Verified) -> ApiResult<ListingJson> {
    let record = state.node().record(&verified.id())?.ok_or_else(|| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "stored record vanished")
    })?;
    ListingJson::from_record(&record)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "not a listing"))
}

fn parse_listing_id(id: &str) -> ApiResult<ListingId> {
    id.parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("listing id: {e}")))
}

fn own_listing(state: &ApiState, id: &str) -> ApiResult<ListingId> {
    let id = parse_listing_id(id)?;
    if id.author != state.node().author() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("listing {id} belongs to another author; only its author can change it"),
        ));
    }
    Ok(id)
}

async fn show(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingJson>> {
    let id = parse_listing_id(&id)?;
    let record = state
        .node()
        .listing(&id)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no listing {id}")))?;
    ListingJson::from_record(&record)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no listing {id}")))
}

async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(patch): Body<ListingPatch>,
) -> ApiResult<Json<ListingJson>> {
    let id = own_listing(&state, &id)?;
    let patch = patch
        .resolve()
        .map_err(|e| unprocessable(e.field, e.message))?;
    let verified = state
        .node()
        .update_listing(&id.d, |l| patch.apply(l))
        .await?;
    Ok(Json(listing_json(&state, verified)?))
}

async fn withdraw(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingJson>> {
    let id = own_listing(&state, &id)?;
    let verified = state.node().withdraw_listing(&id.d).await?;
    Ok(Json(listing_json(&state, verified)?))
}

/// `GET /listings` parameters. Lists are comma-separated.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    area: Option<String>,
    mesh: Option<String>,
    kind: Option<String>,
    purpose: Option<String>,
    q: Option<String>,
    author: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct SearchJson {
    pub(crate) listings: Vec<ListingJson>,
    pub(crate) next: Option<String>,
}

fn list(param: &Option<String>) -> impl Iterator<Item = &str> {
    param
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn bad(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"))
}

fn enum_value<T: DeserializeOwned>(field: &str, text: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| bad(field, format!("unknown value {text:?}")))
}

async fn search(
    State(state): State<ApiState>,
    Params(p): Params<SearchParams>,
) -> ApiResult<Json<SearchJson>> {
    let mut query = Query {
        limit: p.limit.unwrap_or(50),
        ..Query::default()
    };
    for area in list(&p.area) {
        let cell = Geohash::parse_area(area).ok_or_else(|| {
            bad(
                "area",
                format!("{area:?} is not a geohash of 5-6 characters"),
            )
        })?;
        query.cells.push(cell.cell());
    }
    for mesh in list(&p.mesh) {
        query.meshes.push(
            MeshId::parse(mesh).ok_or_else(|| bad("mesh", format!("{mesh:?} is not a mesh id")))?,
        );
    }
    for kind in list(&p.kind) {
        query.kinds.push(enum_value::<DealKind>("kind", kind)?);
    }
    if let Some(purpose) = &p.purpose {
        query.purpose = Some(enum_value::<Purpose>("purpose", purpose)?);
    }
    if let Some(q) = &p.q {
        query.words = q.split_whitespace().map(str::to_owned).collect();
    }
    if let Some(author) = &p.author {
        query.author = Some(author.parse::<AuthorKey>().map_err(|e| bad("author", e))?);
    }
    if let Some(cursor) = &p.cursor {
        query.cursor = Some(cursor.parse::<Cursor>().map_err(|e| bad("cursor", e))?);
    }
    let page = state.node().search(&query)?;
    Ok(Json(SearchJson {
        listings: page
            .records
            .iter()
            .filter_map(ListingJson::from_record)
            .collect(),
        next: page.next.map(|c| c.to_string()),
    }))
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ProfileOut {
    pub(crate) author: String,
    pub(crate) version: u64,
    #[serde(flatten)]
    pub(crate) profile: ProfileJson,
}

async fn set_profile(
    State(state): State<ApiState>,
    Body(profile): Body<ProfileJson>,
) -> ApiResult<Json<ProfileOut>> {
    let verified = state.node().set_profile(profile.clone().into()).await?;
    Ok(Json(ProfileOut {
        author: state.node().author().to_string(),
        version: verified.body().seq,
        profile,
    }))
}

async fn show_profile(
    State(state): State<ApiState>,
    Path(author): Path<String>,
) -> ApiResult<Json<ProfileOut>> {
    let author: AuthorKey = author.parse().map_err(|e| bad("author", e))?;
    let (version, profile) = state
        .node()
        .profile(author)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no profile of {author}")))?;
    Ok(Json(ProfileOut {
        author: author.to_string(),
        version,
        profile: (&profile).into(),
    }))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(
        serde_json::from_str(super::openapi::DOCUMENT).expect("the OpenAPI document is valid JSON"),
    )
}

/// OpenMetrics text (Prometheus scrapes it): libp2p's metrics and the node's own counters.
async fn metrics(State(state): State<ApiState>) -> ApiResult<impl axum::response::IntoResponse> {
    let text = state.node().metrics_text().await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct MeshJson {
    pub(crate) id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) invite: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMesh {
    name: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinMesh {
    invite: String,
}

async fn list_meshes(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let meshes: Vec<MeshJson> = state
        .node()
        .named_meshes()
        .into_iter()
        .map(|m| MeshJson {
            id: m.id.to_string(),
            name: m.name,
            invite: None,
        })
        .collect();
    Json(serde_json::json!({ "meshes": meshes }))
}

async fn create_mesh(
    State(state): State<ApiState>,
    Body(input): Body<CreateMesh>,
) -> ApiResult<(StatusCode, Json<MeshJson>)> {
    let (id, invite) = state.node().create_mesh(&input.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(MeshJson {
            id: id.to_string(),
            name: Some(input.name),
            invite: Some(invite),
        }),
    ))
}

async fn join_mesh(
    State(state): State<ApiState>,
    Body(input): Body<JoinMesh>,
) -> ApiResult<Json<MeshJson>> {
    let id = state.node().join_invite(input.invite.trim()).await?;
    let name = state
        .node()
        .named_meshes()
        .into_iter()
        .find(|m| m.id == id)
        .and_then(|m| m.name);
    Ok(Json(MeshJson {
        id: id.to_string(),
        name,
        invite: None,
    }))
}

fn parse_mesh(id: &str) -> ApiResult<MeshId> {
    MeshId::parse(id).ok_or_else(|| bad("mesh", format!("{id:?} is not a mesh id")))
}

async fn leave_mesh(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MeshJson>> {
    let mesh = parse_mesh(&id)?;
    if !state.node().meshes().contains(&mesh) {
        return Err(NodeError::NotInMesh(id).into());
    }
    state.node().leave_mesh(&mesh).await?;
    Ok(Json(MeshJson {
        id,
        name: None,
        invite: None,
    }))
}

async fn mesh_invite(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MeshJson>> {
    let mesh = parse_mesh(&id)?;
    let invite = state.node().invite(&mesh).await?;
    Ok(Json(MeshJson {
        id,
        name: None,
        invite: Some(invite),
    }))
}

/// Server-sent events: every node event from now on, as JSON (`data:` lines).
async fn events(
    State(state): State<ApiState>,
) -> axum::response::sse::Sse<
    impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let rx = state.node().subscribe_events();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let data = match rx.recv().await {
            Ok(event) => event.to_json().to_string(),
            // A slow reader misses events rather than stalling the node.
            Err(RecvError::Lagged(missed)) => {
                serde_json::json!({"type": "lagged", "missed": missed}).to_string()
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().data(data)), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
