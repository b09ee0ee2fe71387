//! `/blobs`: upload a photo (normalised on this node, then named by its hash)
//! and read one, fetched from the nodes that hold it when it is not held here.
//!
//! Uploads have their own body limit ([`MAX_UPLOAD`](super::MAX_UPLOAD)), set
//! on their route only; every other route keeps [`MAX_BODY`](super::MAX_BODY).
//! A photo is always served as `image/jpeg` with `nosniff` (whatever was
//! uploaded, only the re-encoded JPEG is ever stored), and as immutable: a hash
//! names its bytes for ever.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::extract::{ImageBody, Params, bad_parameter, blob_hash};
use super::json::{BlobJson, ErrorBody, JpegBytes};
use super::{ApiState, MAX_UPLOAD};
use crate::blobs::{PhotoInfo, PhotoSize};

/// The `Cache-Control` of a photo: its hash names its bytes for ever.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(upload_blob))
        // Inside the router-wide 64 KiB limit, so it wins on this route only.
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .merge(OpenApiRouter::new().routes(routes!(get_blob)))
}

impl From<PhotoInfo> for BlobJson {
    fn from(p: PhotoInfo) -> Self {
        Self {
            hash: p.hash.to_string(),
            width: p.width,
            height: p.height,
            bytes: p.bytes as u64,
        }
    }
}

/// Upload a photo
///
/// The raw bytes of a JPEG, PNG or WebP image (at most 16 MiB), with its
/// `Content-Type`. The node decodes it under limits (8000 x 8000 pixels, 256
/// MiB), turns it upright by its EXIF orientation, drops every piece of
/// metadata (GPS included), scales it to at most 1600 px and stores it as a
/// JPEG of at most 512 KiB, flushed before the answer. Name it in a listing's
/// `photos` by the hash answered.
#[utoipa::path(
    post,
    path = "/api/v1/blobs",
    tag = "photos",
    request_body(
        description = "The image's raw bytes (at most 16 MiB)",
        content(("image/jpeg"), ("image/png"), ("image/webp"))
    ),
    responses(
        (status = 201, description = "The photo as stored", body = BlobJson),
        (status = 413, description = "`body_too_large`: the upload is over the limit of 16 MiB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the `Content-Type` is not image/jpeg, image/png or image/webp", body = ErrorBody),
        (status = 422, description = "`not_an_image`: the bytes are not a decodable JPEG, PNG or WebP; `image_too_large`: over a limit, which the sentence names (8000 x 8000 pixels, 256 MiB to decode, 512 KiB as a JPEG at the lowest quality). Nothing is stored", body = ErrorBody),
    )
)]
async fn upload_blob(
    State(state): State<ApiState>,
    ImageBody(bytes): ImageBody,
) -> ApiResult<(StatusCode, Json<BlobJson>)> {
    let info = state.node().add_photo(bytes).await?;
    Ok((StatusCode::CREATED, Json(info.into())))
}

/// `GET /blobs/{hash}` parameters.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BlobParams {
    /// `full` (default: the photo as published) or `thumb` (at most 320 px,
    /// made here).
    size: Option<String>,
}

impl BlobParams {
    fn size(&self) -> ApiResult<PhotoSize> {
        match self.size.as_deref() {
            None | Some("full") => Ok(PhotoSize::Full),
            Some("thumb") => Ok(PhotoSize::Thumb),
            Some(other) => Err(bad_parameter(
                "size",
                format!("unknown value {other:?}; use full or thumb"),
            )),
        }
    }
}

/// Read a photo
///
/// The photo's JPEG bytes (or its thumbnail), fetched first from the nodes
/// that may hold it when it is not held here (the sender of a listing naming
/// it, its author, peers on its topics), for up to 10 s.
#[utoipa::path(
    get,
    path = "/api/v1/blobs/{hash}",
    tag = "photos",
    params(
        ("hash" = String, Path, description = "The photo's hash (64 hex)", example = "5e0c4bd3c8e3ab2ad5e1f4e8e8f3d6a1f0f1b5a9c1d2e3f4a5b6c7d8e9f0a1b2"),
        BlobParams,
    ),
    responses(
        (status = 200, description = "The JPEG, always `image/jpeg` with `X-Content-Type-Options: nosniff`", content_type = "image/jpeg", body = inline(JpegBytes),
            headers(
                ("X-Content-Type-Options" = String, description = "`nosniff`"),
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`: a hash names its bytes for ever"),
            )
        ),
        (status = 400, description = "`invalid_blob_hash`: not 64 lower-case hex characters; `invalid_parameter`: `size` is not full or thumb; `unknown_parameter`", body = ErrorBody),
        (status = 404, description = "`photo_not_found`: neither this node nor any node asked holds it", body = ErrorBody),
        (status = 504, description = "`photo_timeout`: the nodes asked did not answer within 10 s", body = ErrorBody),
    )
)]
async fn get_blob(
    State(state): State<ApiState>,
    Path(hash): Path<String>,
    Params(p): Params<BlobParams>,
) -> ApiResult<impl IntoResponse> {
    let hash = blob_hash(&hash)?;
    let size = p.size()?;
    let bytes = state.node().photo(hash, size).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        bytes,
    ))
}
