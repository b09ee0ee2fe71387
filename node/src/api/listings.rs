//! `/listings`: publish, search (and look up short ids), show, update, withdraw.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{Geohash, Verified};
use swapmesh_store::{Cursor, Query};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, Params, author, bad_parameter, listing_id, mesh_id, page_limit};
use super::json::{ErrorBody, ListingInput, ListingJson, ListingPage, ListingPatch};
use super::trust::trust_json;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(search_listings, create_listing))
        .routes(routes!(show_listing, update_listing, withdraw_listing))
}

/// `GET /listings` parameters. Lists are comma-separated.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Geohash cells of 5-6 characters, comma-separated. With no `area`, no
    /// `mesh` and no `author`, the search looks in the places this node
    /// listens to: its area's cell and the 8 around it, and its meshes.
    area: Option<String>,
    /// Mesh ids, comma-separated.
    mesh: Option<String>,
    /// Deal kinds (swap, rent, lease, share, give), comma-separated: any of them.
    kind: Option<String>,
    /// offer or want.
    purpose: Option<String>,
    /// Words that must all appear in the title, tags or category.
    q: Option<String>,
    /// Only this author's listings (64 hex).
    author: Option<String>,
    /// A short id: the name of one of our listings, or at least 8 characters
    /// that start listing ids (`<author-hex>.<d>`). An exact name of ours wins
    /// over prefix matches. Not combined with the other filters.
    id_prefix: Option<String>,
    /// Only listings of authors within this many vouch hops of you (1-3):
    /// 1 is the people you vouch for. Pages may then hold fewer than `limit`.
    max_distance: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// Most listings in the page (1-500, default 50).
    limit: Option<String>,
}

fn list(param: &Option<String>) -> impl Iterator<Item = &str> {
    param
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn enum_value<T: serde::de::DeserializeOwned>(
    field: &str,
    text: &str,
    accepted: &str,
) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| bad_parameter(field, format!("unknown value {text:?}; use {accepted}")))
}

impl SearchParams {
    fn limit(&self) -> ApiResult<usize> {
        page_limit(self.limit.as_deref())
    }

    fn max_distance(&self) -> ApiResult<Option<u8>> {
        self.max_distance
            .as_deref()
            .map(|d| match d.parse::<u8>() {
                Ok(d @ 1..=3) => Ok(d),
                _ => Err(bad_parameter(
                    "max_distance",
                    format!("{d:?} is not a distance from 1 to 3"),
                )),
            })
            .transpose()
    }

    fn query(&self) -> ApiResult<Query> {
        let mut query = Query {
            limit: self.limit()?,
            ..Query::default()
        };
        for area in list(&self.area) {
            let cell = Geohash::parse_area(area).ok_or_else(|| {
                bad_parameter(
                    "area",
                    format!("{area:?} is not a geohash of 5-6 characters"),
                )
            })?;
            query.cells.push(cell.cell());
        }
        for mesh in list(&self.mesh) {
            query.meshes.push(mesh_id("mesh", mesh)?);
        }
        for kind in list(&self.kind) {
            query.kinds.push(enum_value::<DealKind>(
                "kind",
                kind,
                "swap, rent, lease, share or give",
            )?);
        }
        if let Some(purpose) = &self.purpose {
            query.purpose = Some(enum_value::<Purpose>("purpose", purpose, "offer or want")?);
        }
        if let Some(q) = &self.q {
            query.words = q.split_whitespace().map(str::to_owned).collect();
        }
        if let Some(a) = &self.author {
            query.author = Some(author("author", a)?);
        }
        if let Some(cursor) = &self.cursor {
            query.cursor = Some(
                cursor
                    .parse::<Cursor>()
                    .map_err(|e| bad_parameter("cursor", e))?,
            );
        }
        Ok(query)
    }

    fn has_filters(&self) -> bool {
        [
            &self.area,
            &self.mesh,
            &self.kind,
            &self.purpose,
            &self.q,
            &self.author,
            &self.max_distance,
            &self.cursor,
        ]
        .iter()
        .any(|p| p.is_some())
    }
}

/// Search listings
///
/// The live listings this node holds, newest first, one page at a time: pass
/// the answer's `next` as `cursor` for the next page. With `id_prefix`, the
/// listings a short id names instead.
#[utoipa::path(
    get,
    path = "/api/v1/listings",
    tag = "listings",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of listings, newest first", body = ListingPage),
        (status = 400, description = "`invalid_parameter`: a value does not parse; `unknown_parameter`: no such parameter; `id_prefix_too_short`: a short id under 8 characters that is not the name of one of our listings", body = ErrorBody),
    )
)]
async fn search_listings(
    State(state): State<ApiState>,
    Params(p): Params<SearchParams>,
) -> ApiResult<Json<ListingPage>> {
    if let Some(prefix) = &p.id_prefix {
        if p.has_filters() {
            return Err(bad_parameter(
                "id_prefix",
                "a short id is looked up alone; leave out the other filters",
            ));
        }
        let found = state.node().find_listings(prefix.trim(), p.limit()?)?;
        return Ok(Json(ListingPage {
            listings: with_trust(state.node(), found.iter()),
            next: None,
        }));
    }
    let max_distance = p.max_distance()?;
    let page = state.node().search(&p.query()?)?;
    let node = state.node();
    let near = |r: &&swapmesh_store::StoredRecord| match max_distance {
        None => true,
        Some(most) => node
            .trust_of(&r.body.author)
            .distance
            .is_some_and(|d| (1..=most).contains(&d)),
    };
    Ok(Json(ListingPage {
        listings: with_trust(node, page.records.iter().filter(near)),
        next: page.next.map(|c| c.to_string()),
    }))
}

/// The API form of stored listings, each with its author's trust.
fn with_trust<'a>(
    node: &crate::Node,
    records: impl Iterator<Item = &'a swapmesh_store::StoredRecord>,
) -> Vec<ListingJson> {
    records
        .filter_map(|r| {
            let mut json = ListingJson::from_record(r)?;
            json.trust = Some(trust_json(node, &r.body.author));
            Some(json)
        })
        .collect()
}

/// The API form of a version we just published (no second read of the store).
fn published(node: &crate::Node, verified: &Verified) -> ApiResult<Json<ListingJson>> {
    let mut json = ListingJson::from_body(verified.id(), verified.body()).ok_or_else(|| {
        ApiError::new(ErrorCode::Internal, "the published record is not a listing")
    })?;
    json.trust = Some(trust_json(node, &verified.body().author));
    Ok(Json(json))
}

/// Publish a listing
///
/// Signs and stores a new listing of ours, durably, then gossips it. Amounts
/// are integer minor units of an ISO 4217 currency; `photos` are hashes of
/// photos held here (`POST /blobs`). It goes to the area and the node's open
/// meshes, or where `meshes` and `area` say: a private mesh only when named,
/// and then not to the area unless `area` is true.
#[utoipa::path(
    post,
    path = "/api/v1/listings",
    tag = "listings",
    request_body = ListingInput,
    responses(
        (status = 201, description = "The listing as stored", body = ListingJson),
        (status = 400, description = "`invalid_mesh_id`: an entry of `meshes` is not a mesh id", body = ErrorBody),
        (status = 404, description = "`mesh_not_found`: `meshes` names a mesh this node is not in", body = ErrorBody),
        (status = 409, description = "`listing_exists`: a live listing of ours has this name", body = ErrorBody),
        (status = 422, description = "`invalid_record`: the listing breaks a protocol rule (`rule`, e.g. `too_many_photos`); `unknown_currency`: a currency not in the ISO 4217 table; `invalid_field`: e.g. an availability time that is not RFC 3339, or a photo hash that is not 64 hex; `missing_photo`: a photo not held here, named (upload it with `POST /blobs`)", body = ErrorBody),
    )
)]
async fn create_listing(
    State(state): State<ApiState>,
    Body(mut input): Body<ListingInput>,
) -> ApiResult<(StatusCode, Json<ListingJson>)> {
    let meshes = match input.meshes.take() {
        None => None,
        Some(ids) => Some(
            ids.iter()
                .map(|id| mesh_id("meshes", id))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let placement = state.node().placement(meshes, input.area)?;
    let listing = input.into_listing()?;
    let verified = state.node().publish_listing_at(listing, placement).await?;
    Ok((StatusCode::CREATED, published(state.node(), &verified)?))
}

/// Show a listing
///
/// The current version of anyone's listing, tombstones included.
#[utoipa::path(
    get,
    path = "/api/v1/listings/{id}",
    tag = "listings",
    params(("id" = String, Path, description = "`<author-hex>.<d>`", example = "0101010101010101010101010101010101010101010101010101010101010101.drill")),
    responses(
        (status = 200, description = "The listing", body = ListingJson),
        (status = 400, description = "`invalid_listing_id`: not `<author-hex>.<name>`", body = ErrorBody),
        (status = 404, description = "`listing_not_found`: no listing with this id is held here", body = ErrorBody),
    )
)]
async fn show_listing(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingJson>> {
    let id = listing_id(&id)?;
    let not_found = || {
        ApiError::new(
            ErrorCode::ListingNotFound,
            format!("no listing {id} is held here"),
        )
    };
    let record = state.node().listing(&id)?.ok_or_else(not_found)?;
    with_trust(state.node(), std::iter::once(&record))
        .pop()
        .map(Json)
        .ok_or_else(not_found)
}

/// Update a listing
///
/// Publishes a new version of one of our listings with the given fields
/// changed; its lifetime starts again.
#[utoipa::path(
    patch,
    path = "/api/v1/listings/{id}",
    tag = "listings",
    params(("id" = String, Path, description = "`<author-hex>.<d>`", example = "0101010101010101010101010101010101010101010101010101010101010101.drill")),
    request_body = ListingPatch,
    responses(
        (status = 200, description = "The new version", body = ListingJson),
        (status = 400, description = "`invalid_listing_id`: not `<author-hex>.<name>`", body = ErrorBody),
        (status = 403, description = "`not_your_listing`: only its author can change a listing", body = ErrorBody),
        (status = 404, description = "`listing_not_found`: no listing of ours has this name", body = ErrorBody),
        (status = 409, description = "`listing_withdrawn`: a withdrawn listing cannot change; `superseded`: the store holds a newer version", body = ErrorBody),
        (status = 422, description = "`invalid_record`: the new version breaks a protocol rule (`rule`); `unknown_currency`; `invalid_field`: e.g. `status` set to `withdrawn`; `missing_photo`: a photo not held here, named", body = ErrorBody),
    )
)]
async fn update_listing(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(patch): Body<ListingPatch>,
) -> ApiResult<Json<ListingJson>> {
    let id = listing_id(&id)?;
    let patch = patch.resolve()?;
    let verified = state.node().change_listing(&id, |l| patch.apply(l)).await?;
    published(state.node(), &verified)
}

/// Withdraw a listing
///
/// Publishes the tombstone of one of our listings: every node drops it.
#[utoipa::path(
    delete,
    path = "/api/v1/listings/{id}",
    tag = "listings",
    params(("id" = String, Path, description = "`<author-hex>.<d>`", example = "0101010101010101010101010101010101010101010101010101010101010101.drill")),
    responses(
        (status = 200, description = "The tombstone", body = ListingJson),
        (status = 400, description = "`invalid_listing_id`: not `<author-hex>.<name>`", body = ErrorBody),
        (status = 403, description = "`not_your_listing`: only its author can withdraw a listing", body = ErrorBody),
        (status = 404, description = "`listing_not_found`: no listing of ours has this name", body = ErrorBody),
        (status = 409, description = "`listing_withdrawn`: it is withdrawn already; `superseded`", body = ErrorBody),
    )
)]
async fn withdraw_listing(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ListingJson>> {
    let id = listing_id(&id)?;
    let verified = state.node().withdraw(&id).await?;
    published(state.node(), &verified)
}
