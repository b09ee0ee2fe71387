//! Errors as the API answers them: `{"error": "<sentence>", "code":
//! "<snake_case>", …details}` ([`ErrorBody`]), one [`ErrorCode`] per case, each
//! with its HTTP status and a line of documentation that the OpenAPI document
//! carries.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use swapmesh_protocol::validate::OwnError;
use utoipa::ToSchema;

use super::json::ErrorBody;
use crate::NodeError;

/// What went wrong, for programs. Each code has one HTTP status
/// ([`ErrorCode::status`]) and a meaning ([`ErrorCode::meaning`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 401: no `Authorization: Bearer <token>` header.
    MissingToken,
    /// 401: the token is not this node's.
    WrongToken,
    /// 403: the `Host` header is not the API's address (DNS rebinding).
    ForbiddenHost,
    /// 404: no such route.
    NoSuchRoute,
    /// 405: the route does not take this method.
    MethodNotAllowed,
    /// 413: the body is over the limit.
    BodyTooLarge,
    /// 415: the body is not `application/json`.
    NotJson,
    /// 400: the body is not JSON.
    MalformedJson,
    /// 422: the body has a field the type does not have.
    UnknownField,
    /// 422: the body lacks a required field.
    MissingField,
    /// 422: a field has the wrong type or value.
    InvalidField,
    /// 422: a currency code not in the ISO 4217 table.
    UnknownCurrency,
    /// 400: a query parameter the route does not take.
    UnknownParameter,
    /// 400: a query parameter's value does not parse.
    InvalidParameter,
    /// 400: a short id under 8 characters that is not the name of one of our listings.
    IdPrefixTooShort,
    /// 400: a listing id that is not `<author-hex>.<name>`.
    InvalidListingId,
    /// 400: an author that is not 64 lower-case hex characters.
    InvalidAuthor,
    /// 400: a mesh id that is not 1-32 of a-z and 0-9.
    InvalidMeshId,
    /// 422: the record breaks a protocol rule (named in `rule`).
    InvalidRecord,
    /// 404: no listing with this id is held here.
    ListingNotFound,
    /// 404: no profile of this author is held here.
    ProfileNotFound,
    /// 404: this node is not in this mesh.
    MeshNotFound,
    /// 403: the listing is another author's.
    NotYourListing,
    /// 409: a live listing of ours has this name already.
    ListingExists,
    /// 409: the listing is withdrawn and cannot change.
    ListingWithdrawn,
    /// 409: the store holds a newer version at this address.
    Superseded,
    /// 422: the invite is mistyped or altered.
    InvalidInvite,
    /// 503: the node listens nowhere yet, so it has no address for an invite.
    NoAddressToShare,
    /// 503: the node's network is not running.
    NetworkUnavailable,
    /// 500: something failed inside the node (the log says what).
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the documentation.
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::MissingToken,
        ErrorCode::WrongToken,
        ErrorCode::ForbiddenHost,
        ErrorCode::NoSuchRoute,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BodyTooLarge,
        ErrorCode::NotJson,
        ErrorCode::MalformedJson,
        ErrorCode::UnknownField,
        ErrorCode::MissingField,
        ErrorCode::InvalidField,
        ErrorCode::UnknownCurrency,
        ErrorCode::UnknownParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::IdPrefixTooShort,
        ErrorCode::InvalidListingId,
        ErrorCode::InvalidAuthor,
        ErrorCode::InvalidMeshId,
        ErrorCode::InvalidRecord,
        ErrorCode::ListingNotFound,
        ErrorCode::ProfileNotFound,
        ErrorCode::MeshNotFound,
        ErrorCode::NotYourListing,
        ErrorCode::ListingExists,
        ErrorCode::ListingWithdrawn,
        ErrorCode::Superseded,
        ErrorCode::InvalidInvite,
        ErrorCode::NoAddressToShare,
        ErrorCode::NetworkUnavailable,
        ErrorCode::Internal,
    ];

    /// The HTTP status the code is answered with.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            MalformedJson | UnknownParameter | InvalidParameter | IdPrefixTooShort
            | InvalidListingId | InvalidAuthor | InvalidMeshId => StatusCode::BAD_REQUEST,
            MissingToken | WrongToken => StatusCode::UNAUTHORIZED,
            ForbiddenHost | NotYourListing => StatusCode::FORBIDDEN,
            NoSuchRoute | ListingNotFound | ProfileNotFound | MeshNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ListingExists | ListingWithdrawn | Superseded => StatusCode::CONFLICT,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UnknownField | MissingField | InvalidField | UnknownCurrency | InvalidRecord
            | InvalidInvite => StatusCode::UNPROCESSABLE_ENTITY,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            NoAddressToShare | NetworkUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingToken => "missing_token",
            WrongToken => "wrong_token",
            ForbiddenHost => "forbidden_host",
            NoSuchRoute => "no_such_route",
            MethodNotAllowed => "method_not_allowed",
            BodyTooLarge => "body_too_large",
            NotJson => "not_json",
            MalformedJson => "malformed_json",
            UnknownField => "unknown_field",
            MissingField => "missing_field",
            InvalidField => "invalid_field",
            UnknownCurrency => "unknown_currency",
            UnknownParameter => "unknown_parameter",
            InvalidParameter => "invalid_parameter",
            IdPrefixTooShort => "id_prefix_too_short",
            InvalidListingId => "invalid_listing_id",
            InvalidAuthor => "invalid_author",
            InvalidMeshId => "invalid_mesh_id",
            InvalidRecord => "invalid_record",
            ListingNotFound => "listing_not_found",
            ProfileNotFound => "profile_not_found",
            MeshNotFound => "mesh_not_found",
            NotYourListing => "not_your_listing",
            ListingExists => "listing_exists",
            ListingWithdrawn => "listing_withdrawn",
            Superseded => "superseded",
            InvalidInvite => "invalid_invite",
            NoAddressToShare => "no_address_to_share",
            NetworkUnavailable => "network_unavailable",
            Internal => "internal",
        }
    }

    /// What the code means, for the documentation.
    pub fn meaning(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingToken => {
                "no `Authorization: Bearer <token>` header (the token is DIR/api-token)"
            }
            WrongToken => "the bearer token is not this node's",
            ForbiddenHost => "the Host header is not the API's address (DNS rebinding)",
            NoSuchRoute => "no such route",
            MethodNotAllowed => "the route does not take this method",
            BodyTooLarge => "the body is over 64 KiB",
            NotJson => "the body is not `application/json`",
            MalformedJson => "the body is not JSON",
            UnknownField => "the body has a field the type does not have (`field`)",
            MissingField => "the body lacks a required field (`field`)",
            InvalidField => "a field has the wrong type or value (`field`)",
            UnknownCurrency => "a currency code not in the ISO 4217 table (`field`)",
            UnknownParameter => "a query parameter the route does not take (`field`)",
            InvalidParameter => "a query parameter's value does not parse (`field`)",
            IdPrefixTooShort => {
                "a short id under 8 characters that is not the name of one of our listings"
            }
            InvalidListingId => "a listing id that is not `<author-hex>.<name>`",
            InvalidAuthor => "an author that is not 64 lower-case hex characters",
            InvalidMeshId => "a mesh id that is not 1-32 of a-z and 0-9",
            InvalidRecord => "the record breaks a protocol rule (`rule`, e.g. `bad_title`)",
            ListingNotFound => "no listing with this id is held here",
            ProfileNotFound => "no profile of this author is held here",
            MeshNotFound => "this node is not in this mesh",
            NotYourListing => "the listing is another author's; only its author can change it",
            ListingExists => "a live listing of ours has this name already",
            ListingWithdrawn => "the listing is withdrawn and cannot change",
            Superseded => "the store holds a newer version at this address",
            InvalidInvite => "the invite is mistyped or altered",
            NoAddressToShare => "the node listens nowhere yet, so an invite would have no address",
            NetworkUnavailable => "the node's network is not running",
            Internal => "something failed inside the node (its log says what)",
        }
    }

    /// "`code`: meaning", as the document lists it under a response.
    pub fn doc_line(self) -> String {
        format!("`{}`: {}", self.as_str(), self.meaning())
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: a code (which gives the status), a sentence and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    body: ErrorBody,
}

impl ApiError {
    /// An error with `code` and a sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            body: ErrorBody {
                error: message.into(),
                code,
                field: None,
                rule: None,
            },
        }
    }

    /// An error about one field or parameter; the sentence names it.
    pub fn field(code: ErrorCode, field: &str, message: impl std::fmt::Display) -> Self {
        let mut e = Self::new(code, format!("{field}: {message}"));
        e.body.field = Some(field.to_owned());
        e
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.body.code
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.body.code.status()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), axum::Json(self.body)).into_response()
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let code = match &e {
            NodeError::Invalid(OwnError::Invalid(rule)) => {
                let mut err = ApiError::new(
                    ErrorCode::InvalidRecord,
                    format!("invalid listing ({}): {rule}", rule.rule()),
                );
                err.body.rule = Some(rule.rule().to_owned());
                return err;
            }
            NodeError::Invalid(OwnError::WouldBeIgnored(why)) => {
                let mut err = ApiError::new(ErrorCode::InvalidRecord, e.to_string());
                err.body.rule = Some(why.reason().to_owned());
                return err;
            }
            NodeError::IdPrefixTooShort { .. } => {
                return ApiError::field(ErrorCode::IdPrefixTooShort, "id_prefix", &e);
            }
            NodeError::NoSuchListing(_) => ErrorCode::ListingNotFound,
            NodeError::NotOurListing(_) => ErrorCode::NotYourListing,
            NodeError::NotInMesh(_) => ErrorCode::MeshNotFound,
            NodeError::Invite(_) => ErrorCode::InvalidInvite,
            NodeError::ListingExists(_) => ErrorCode::ListingExists,
            NodeError::Withdrawn(_) => ErrorCode::ListingWithdrawn,
            NodeError::Superseded => ErrorCode::Superseded,
            NodeError::NoAddressToShare => ErrorCode::NoAddressToShare,
            NodeError::Network(_) | NodeError::Stopped => ErrorCode::NetworkUnavailable,
            _ => ErrorCode::Internal,
        };
        if code == ErrorCode::Internal {
            tracing::warn!(error = %e, "API request failed inside the node");
        }
        ApiError::new(code, e.to_string())
    }
}

/// The result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_spelled_as_serde_spells_it() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, code.as_str());
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn the_readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../../README.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.status().as_u16());
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }
}
