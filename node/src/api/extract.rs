//! What handlers take from a request, parsed once at the edge into types, every
//! refusal a typed [`ApiError`] naming the field: JSON bodies ([`Body`], and
//! [`OptionalBody`] where a body may be left out), uploaded photos
//! ([`ImageBody`]), query strings ([`Params`]) and the ids and hashes in paths.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use swapmesh_protocol::{AgreementId, AuthorKey, BlobHash, ListingId, MeshId};

use super::error::{ApiError, ErrorCode};
use super::{MAX_BODY, MAX_UPLOAD};

/// A JSON body. Not JSON (`not_json`, `malformed_json`), over the cap
/// (`body_too_large`), an unknown, missing or ill-typed field (`unknown_field`,
/// `missing_field`, `invalid_field`, naming the field).
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&req) {
            return Err(not_json());
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(Body)
    }
}

/// A JSON body that may be left out: none (or an empty one) is `T::default()`;
/// one that is there is taken as [`Body`] takes it.
pub(crate) struct OptionalBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = is_json(&req);
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalBody(T::default()));
        }
        if !is_json {
            return Err(not_json());
        }
        parse_json(&bytes).map(OptionalBody)
    }
}

/// Is the request's `Content-Type` JSON (`application/json` or `…+json`)?
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

fn not_json() -> ApiError {
    ApiError::new(
        ErrorCode::NotJson,
        "the body must be JSON, sent with `Content-Type: application/json`",
    )
}

/// The body's bytes, at most [`MAX_BODY`].
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::BodyTooLarge,
                format!("the request body is over the limit of {MAX_BODY} bytes"),
            )
        } else {
            ApiError::new(ErrorCode::MalformedJson, rejection.body_text())
        }
    })
}

/// An uploaded photo's bytes: sent with `Content-Type` `image/jpeg`,
/// `image/png` or `image/webp` (else `unsupported_media_type`, before the body
/// is read), at most [`MAX_UPLOAD`] (else `body_too_large`; the route raises
/// the body limit to it). What the bytes are is checked when they are
/// normalised, not here.
pub(crate) struct ImageBody(pub(crate) Vec<u8>);

/// The `Content-Type` values an upload may have.
pub(crate) const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

impl<S: Send + Sync> FromRequest<S> for ImageBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let given = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if !given
            .as_deref()
            .is_some_and(|mime| IMAGE_TYPES.contains(&mime))
        {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "a photo is sent as its raw bytes with `Content-Type` {} (got {})",
                    IMAGE_TYPES.join(", "),
                    given.as_deref().unwrap_or("none")
                ),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::BodyTooLarge,
                    format!(
                        "the upload is over the limit of {} MiB",
                        MAX_UPLOAD / (1024 * 1024)
                    ),
                )
            } else {
                ApiError::new(
                    ErrorCode::NotAnImage,
                    format!("the upload could not be read: {}", rejection.body_text()),
                )
            }
        })?;
        Ok(ImageBody(bytes.into()))
    }
}

/// The photo hash in a path.
pub(crate) fn blob_hash(text: &str) -> Result<BlobHash, ApiError> {
    text.parse().map_err(|_| {
        ApiError::field(
            ErrorCode::InvalidBlobHash,
            "hash",
            format!("{text:?} is not a photo hash (64 lower-case hex characters)"),
        )
    })
}

/// Parses a JSON body into `T`, naming the field at fault.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    de.end().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not JSON: {}", without_position(&e)),
        )
    })?;
    Ok(value)
}

fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let path = e.path().to_string();
    let inner = e.inner();
    let message = without_position(inner);
    if !matches!(inner.classify(), Category::Data) {
        return ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not JSON: {message}"),
        );
    }
    let within = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = quoted(&message, "unknown field `") {
        // The path already ends at an unknown key.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.clone()
        } else {
            within(name)
        };
        return ApiError::field(ErrorCode::UnknownField, &field, &message);
    }
    if let Some(name) = quoted(&message, "missing field `") {
        return ApiError::field(ErrorCode::MissingField, &within(name), &message);
    }
    if path == "." {
        ApiError::new(ErrorCode::InvalidField, message)
    } else {
        ApiError::field(ErrorCode::InvalidField, &path, &message)
    }
}

/// The name between `` `…` `` after `start`, if the message begins so.
fn quoted<'a>(message: &'a str, start: &str) -> Option<&'a str> {
    message.strip_prefix(start)?.split('`').next()
}

/// serde_json's message without its " at line L column C".
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A query string; every parameter is text, parsed by the handler into its type
/// with [`bad_parameter`]. An unknown parameter is `unknown_parameter`.
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                let unknown = detail
                    .find("unknown field `")
                    .and_then(|i| quoted(&detail[i..], "unknown field `"));
                match unknown {
                    Some(name) => ApiError::field(
                        ErrorCode::UnknownParameter,
                        name,
                        format!("this route takes no such parameter ({detail})"),
                    ),
                    None => ApiError::new(ErrorCode::InvalidParameter, detail.to_owned()),
                }
            })
    }
}

/// A query parameter whose value does not parse.
pub(crate) fn bad_parameter(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::field(ErrorCode::InvalidParameter, name, message)
}

/// Most entries one page holds unless `limit` says otherwise.
pub(crate) const DEFAULT_LIMIT: usize = 50;

/// A page's `limit` parameter: 1 to the store's most, [`DEFAULT_LIMIT`] if absent.
pub(crate) fn page_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=swapmesh_store::MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(bad_parameter(
            "limit",
            format!(
                "{text:?} is not a number from 1 to {}",
                swapmesh_store::MAX_LIMIT
            ),
        )),
    }
}

/// The listing id in a path.
pub(crate) fn listing_id(text: &str) -> Result<ListingId, ApiError> {
    text.parse()
        .map_err(|e| ApiError::field(ErrorCode::InvalidListingId, "id", e))
}

/// The agreement id in a path.
pub(crate) fn agreement_id(text: &str) -> Result<AgreementId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::field(
            ErrorCode::InvalidAgreementId,
            "id",
            format!("{text:?} is not an agreement id (64 lower-case hex characters)"),
        )
    })
}

/// The author in a path or parameter.
pub(crate) fn author(field: &str, text: &str) -> Result<AuthorKey, ApiError> {
    text.parse()
        .map_err(|e| ApiError::field(ErrorCode::InvalidAuthor, field, e))
}

/// An optional author key parameter: `None` when it is not given.
pub(crate) fn optional_author(
    field: &str,
    text: Option<&str>,
) -> Result<Option<AuthorKey>, ApiError> {
    text.map(|t| author(field, t)).transpose()
}

/// The mesh id in a path or parameter.
pub(crate) fn mesh_id(field: &str, text: &str) -> Result<MeshId, ApiError> {
    MeshId::parse(text).ok_or_else(|| {
        ApiError::field(
            ErrorCode::InvalidMeshId,
            field,
            format!("{text:?} is not a mesh id (1-32 of a-z and 0-9)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::json::ListingInput;

    fn refused(body: &str) -> ApiError {
        parse_json::<ListingInput>(body.as_bytes()).expect_err("refused")
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = refused(r#"{"kinds":["give"],"title":"x","colour":"red"}"#);
        assert_eq!(e.code(), ErrorCode::UnknownField);
        assert_eq!(e.body().field.as_deref(), Some("colour"), "{e:?}");
        let e = refused(
            r#"{"kinds":["give"],"title":"x","price":{"amount":5,"currency":"EUR","per":"day","colour":"red"}}"#,
        );
        assert_eq!(e.body().field.as_deref(), Some("price.colour"), "{e:?}");
        let e = refused(r#"{"kinds":["give"]}"#);
        assert_eq!(e.code(), ErrorCode::MissingField);
        assert!(format!("{e:?}").contains("field: Some(\"title\")"), "{e:?}");
        let e = refused(
            r#"{"kinds":["give"],"title":"x","price":{"amount":"five","currency":"EUR","per":"day"}}"#,
        );
        assert_eq!(e.code(), ErrorCode::InvalidField);
        assert!(format!("{e:?}").contains("price.amount"), "{e:?}");
        assert_eq!(refused(r#"{"kinds": ["#).code(), ErrorCode::MalformedJson);
        assert_eq!(
            refused(r#"{"kinds":["give"],"title":"x"} x"#).code(),
            ErrorCode::MalformedJson
        );
    }
}
