//! Errors as the API answers them: `{"error": "<sentence>", "code":
//! "<snake_case>", …details}` ([`ErrorBody`]), one [`ErrorCode`] per case, each
//! with its HTTP status and a line of documentation that the OpenAPI document
//! carries.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use swapmesh_protocol::validate::OwnError;
use utoipa::ToSchema;

use super::convert::rfc3339;
use super::json::{ErrorBody, SpanJson};
use crate::blobs::BlobError;
use crate::{AgreeError, NodeError};

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
    /// 403: the route takes the bearer token only, not a web session.
    BearerOnly,
    /// 403: a web session's write without its CSRF token, or with another.
    CsrfMismatch,
    /// 403: a web session's write from a page of another origin.
    ForeignOrigin,
    /// 422: a host for a sign-in link that is not one of the API's addresses.
    UnknownHost,
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
    /// 400: an agreement id that is not 64 lower-case hex characters.
    InvalidAgreementId,
    /// 422: the record breaks a protocol rule (named in `rule`).
    InvalidRecord,
    /// 404: no listing with this id is held here.
    ListingNotFound,
    /// 404: no profile of this author is held here.
    ProfileNotFound,
    /// 404: this node is not in this mesh.
    MeshNotFound,
    /// 404: no blocked peer has this id or starts with it.
    PeerNotBlocked,
    /// 404: we hold no live vouch of ours for this subject.
    VouchNotFound,
    /// 404: we do not block this author.
    BlockNotFound,
    /// 404: this node's mailbox does not admit this author.
    NotAdmitted,
    /// 403: the listing is another author's.
    NotYourListing,
    /// 409: a live listing of ours has this name already.
    ListingExists,
    /// 409: the listing is withdrawn and cannot change.
    ListingWithdrawn,
    /// 409: the store holds a newer version at this address.
    Superseded,
    /// 409: the record is outside our own quota for its place (`rule`:
    /// `quota_topic` or `quota_day`).
    OverQuota,
    /// 503: the node is degraded (its disk is full or failing): it takes no
    /// writes until it recovers.
    Degraded,
    /// 422: the invite is mistyped or altered.
    InvalidInvite,
    /// 404: no agreement with this id is held here.
    UnknownAgreement,
    /// 404: the listing to agree on is not held here.
    UnknownListing,
    /// 404: no such action on an agreement (`actions` lists them).
    UnknownAction,
    /// 409: the action is the other party's.
    NotYourTurn,
    /// 409: the action does not apply now.
    OutOfOrder,
    /// 409: the agreement changed meanwhile.
    Stale,
    /// 409: the item is held or booked then (`period`).
    Overlaps,
    /// 409: the listing's terms changed since the version named.
    ListingChanged,
    /// 409: the listing is paused or withdrawn.
    Unavailable,
    /// 409: you blocked the other party.
    Blocked,
    /// 409: the offer has expired.
    OfferExpired,
    /// 409: a cancel after a handover.
    AfterHandover,
    /// 409: an act of ours is still open.
    OpenAct,
    /// 409: nothing of the other party's is open to confirm.
    NothingToConfirm,
    /// 409: the agreement has ended.
    Finished,
    /// 409: another event of ours still waits for the provider's node.
    Pending,
    /// 409: the other party's node refused (`refusal`).
    Refused,
    /// 409: no receipt of the agreement is held here yet.
    NoReceipt,
    /// 422: the terms break a rule (`rule`).
    InvalidTerms,
    /// 429: too many undecided proposals to this provider.
    TooMany,
    /// 415: an upload's `Content-Type` is not image/jpeg, image/png or image/webp.
    UnsupportedMediaType,
    /// 422: the upload is not a decodable JPEG, PNG or WebP image.
    NotAnImage,
    /// 422: the image is over a limit (pixels, decoding memory, or size as a JPEG).
    ImageTooLarge,
    /// 400: a photo hash that is not 64 lower-case hex characters.
    InvalidBlobHash,
    /// 404: neither this node nor any node asked holds the photo.
    PhotoNotFound,
    /// 422: a listing names a photo that is not held here.
    MissingPhoto,
    /// 504: the nodes asked for a photo did not answer in time.
    PhotoTimeout,
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
        ErrorCode::BearerOnly,
        ErrorCode::CsrfMismatch,
        ErrorCode::ForeignOrigin,
        ErrorCode::UnknownHost,
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
        ErrorCode::InvalidAgreementId,
        ErrorCode::InvalidRecord,
        ErrorCode::ListingNotFound,
        ErrorCode::ProfileNotFound,
        ErrorCode::MeshNotFound,
        ErrorCode::PeerNotBlocked,
        ErrorCode::VouchNotFound,
        ErrorCode::BlockNotFound,
        ErrorCode::NotAdmitted,
        ErrorCode::NotYourListing,
        ErrorCode::ListingExists,
        ErrorCode::ListingWithdrawn,
        ErrorCode::Superseded,
        ErrorCode::OverQuota,
        ErrorCode::Degraded,
        ErrorCode::InvalidInvite,
        ErrorCode::UnknownAgreement,
        ErrorCode::UnknownListing,
        ErrorCode::UnknownAction,
        ErrorCode::NotYourTurn,
        ErrorCode::OutOfOrder,
        ErrorCode::Stale,
        ErrorCode::Overlaps,
        ErrorCode::ListingChanged,
        ErrorCode::Unavailable,
        ErrorCode::Blocked,
        ErrorCode::OfferExpired,
        ErrorCode::AfterHandover,
        ErrorCode::OpenAct,
        ErrorCode::NothingToConfirm,
        ErrorCode::Finished,
        ErrorCode::Pending,
        ErrorCode::Refused,
        ErrorCode::NoReceipt,
        ErrorCode::InvalidTerms,
        ErrorCode::TooMany,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotAnImage,
        ErrorCode::ImageTooLarge,
        ErrorCode::InvalidBlobHash,
        ErrorCode::PhotoNotFound,
        ErrorCode::MissingPhoto,
        ErrorCode::PhotoTimeout,
        ErrorCode::NoAddressToShare,
        ErrorCode::NetworkUnavailable,
        ErrorCode::Internal,
    ];

    /// The HTTP status the code is answered with.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            MalformedJson | UnknownParameter | InvalidParameter | IdPrefixTooShort
            | InvalidListingId | InvalidAuthor | InvalidMeshId | InvalidAgreementId
            | InvalidBlobHash => StatusCode::BAD_REQUEST,
            MissingToken | WrongToken => StatusCode::UNAUTHORIZED,
            ForbiddenHost | NotYourListing | BearerOnly | CsrfMismatch | ForeignOrigin => {
                StatusCode::FORBIDDEN
            }
            NoSuchRoute | ListingNotFound | ProfileNotFound | MeshNotFound | PeerNotBlocked
            | VouchNotFound | BlockNotFound | NotAdmitted | UnknownAgreement | UnknownListing
            | UnknownAction | PhotoNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ListingExists | ListingWithdrawn | Superseded | OverQuota | NotYourTurn
            | OutOfOrder | Stale | Overlaps | ListingChanged | Unavailable | Blocked
            | OfferExpired | AfterHandover | OpenAct | NothingToConfirm | Finished | Pending
            | Refused | NoReceipt => StatusCode::CONFLICT,
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            NotJson | UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UnknownField | MissingField | InvalidField | UnknownCurrency | InvalidRecord
            | InvalidInvite | InvalidTerms | NotAnImage | ImageTooLarge | MissingPhoto
            | UnknownHost => StatusCode::UNPROCESSABLE_ENTITY,
            PhotoTimeout => StatusCode::GATEWAY_TIMEOUT,
            TooMany => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            NoAddressToShare | NetworkUnavailable | Degraded => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingToken => "missing_token",
            WrongToken => "wrong_token",
            ForbiddenHost => "forbidden_host",
            BearerOnly => "bearer_only",
            CsrfMismatch => "csrf_mismatch",
            ForeignOrigin => "foreign_origin",
            UnknownHost => "unknown_host",
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
            InvalidAgreementId => "invalid_agreement_id",
            InvalidRecord => "invalid_record",
            ListingNotFound => "listing_not_found",
            ProfileNotFound => "profile_not_found",
            MeshNotFound => "mesh_not_found",
            PeerNotBlocked => "peer_not_blocked",
            VouchNotFound => "vouch_not_found",
            BlockNotFound => "block_not_found",
            NotAdmitted => "not_admitted",
            NotYourListing => "not_your_listing",
            ListingExists => "listing_exists",
            ListingWithdrawn => "listing_withdrawn",
            Superseded => "superseded",
            OverQuota => "over_quota",
            Degraded => "degraded",
            InvalidInvite => "invalid_invite",
            UnknownAgreement => "unknown_agreement",
            UnknownListing => "unknown_listing",
            UnknownAction => "unknown_action",
            NotYourTurn => "not_your_turn",
            OutOfOrder => "out_of_order",
            Stale => "stale",
            Overlaps => "overlaps",
            ListingChanged => "listing_changed",
            Unavailable => "unavailable",
            Blocked => "blocked",
            OfferExpired => "offer_expired",
            AfterHandover => "after_handover",
            OpenAct => "open_act",
            NothingToConfirm => "nothing_to_confirm",
            Finished => "finished",
            Pending => "pending",
            Refused => "refused",
            NoReceipt => "no_receipt",
            InvalidTerms => "invalid_terms",
            TooMany => "too_many",
            UnsupportedMediaType => "unsupported_media_type",
            NotAnImage => "not_an_image",
            ImageTooLarge => "image_too_large",
            InvalidBlobHash => "invalid_blob_hash",
            PhotoNotFound => "photo_not_found",
            MissingPhoto => "missing_photo",
            PhotoTimeout => "photo_timeout",
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
            BearerOnly => "the route takes the bearer token only, not a web session",
            CsrfMismatch => {
                "a web session's write without its CSRF token (`X-CSRF-Token`), or with another"
            }
            ForeignOrigin => "a web session's write whose `Origin` is not this node's",
            UnknownHost => "a host for a sign-in link that is not one of the API's addresses",
            NoSuchRoute => "no such route",
            MethodNotAllowed => "the route does not take this method",
            BodyTooLarge => "the body is over the limit: 64 KiB, or 16 MiB for `POST /blobs`",
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
            InvalidAgreementId => "an agreement id that is not 64 lower-case hex characters",
            InvalidRecord => "the record breaks a protocol rule (`rule`, e.g. `bad_title`)",
            ListingNotFound => "no listing with this id is held here",
            ProfileNotFound => "no profile of this author is held here",
            MeshNotFound => "this node is not in this mesh",
            PeerNotBlocked => {
                "no blocked peer has this id or starts with it (`GET /peers/blocked` lists them)"
            }
            VouchNotFound => "we hold no live vouch of ours for this subject",
            BlockNotFound => "you do not block this author (`GET /blocks` lists them)",
            NotAdmitted => {
                "this node's mailbox does not admit this author (`GET /mailbox` lists them)"
            }
            NotYourListing => "the listing is another author's; only its author can change it",
            ListingExists => "a live listing of ours has this name already",
            ListingWithdrawn => "the listing is withdrawn and cannot change",
            Superseded => "the store holds a newer version at this address",
            OverQuota => {
                "every node keeps at most 200 records of one author in a place, 100 of one day (`rule`: `quota_topic`, `quota_day`)"
            }
            Degraded => {
                "the node's disk is full or failing: it takes no writes until it recovers (`GET /api/v1/node` says why)"
            }
            InvalidInvite => "the invite is mistyped or altered",
            UnknownAgreement => "no agreement with this id is held here",
            UnknownListing => {
                "the listing to agree on is not held here (or the short id names none)"
            }
            UnknownAction => "no such action on an agreement (`actions` lists them)",
            NotYourTurn => "the action is the other party's",
            OutOfOrder => {
                "the action does not apply in the agreement's phase (or nothing of ours is pending)"
            }
            Stale => "the agreement changed meanwhile: read it again and retry",
            Overlaps => "the item is held or booked then (`period`)",
            ListingChanged => "the listing's terms changed since the version named",
            Unavailable => "the listing is paused or withdrawn",
            Blocked => {
                "you blocked the other party: unblock them (`DELETE /blocks/{author}`) to deal with them"
            }
            OfferExpired => "the offer lapsed before it was answered",
            AfterHandover => "a cancel after a handover: return the item, or dispute",
            OpenAct => "an act of ours still waits for the other party's confirm",
            NothingToConfirm => "nothing of the other party's is open to confirm",
            Finished => "the agreement has ended",
            Pending => {
                "another event of ours still waits for the provider's node (`DELETE /agreements/{id}/pending` stops it)"
            }
            Refused => "the other party's node refused the event (`refusal`, e.g. `too_old`)",
            NoReceipt => {
                "no receipt of the agreement is held here: it has not ended, or its receipt has not come yet"
            }
            InvalidTerms => {
                "the terms break a rule (`rule`, e.g. `empty_period`, `kind_not_offered`, `receiver`)"
            }
            TooMany => "too many undecided proposals to this provider",
            UnsupportedMediaType => {
                "an upload's `Content-Type` is not `image/jpeg`, `image/png` or `image/webp`"
            }
            NotAnImage => {
                "the upload is not a decodable JPEG, PNG or WebP image; nothing is stored"
            }
            ImageTooLarge => {
                "the image is over a limit the sentence names (8000 x 8000 pixels, 256 MiB to decode, 512 KiB as a JPEG); nothing is stored"
            }
            InvalidBlobHash => "a photo hash that is not 64 lower-case hex characters",
            PhotoNotFound => "neither this node nor any node asked holds the photo",
            MissingPhoto => {
                "a listing names a photo not held here (`field`: `photos`): upload it first with `POST /blobs`"
            }
            PhotoTimeout => "the nodes asked for the photo did not answer in time (10 s)",
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
    /// Boxed: every handler returns `Result<_, ApiError>`, and the details
    /// would make each of those results large.
    body: Box<ErrorBody>,
}

impl ApiError {
    /// An error with `code` and a sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            body: Box::new(ErrorBody {
                error: message.into(),
                code,
                field: None,
                rule: None,
                period: None,
                refusal: None,
                actions: None,
            }),
        }
    }

    /// The same error naming the rule broken (`invalid_record`, `invalid_terms`).
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.body.rule = Some(rule.into());
        self
    }

    /// An error about one field or parameter; the sentence names it.
    pub fn field(code: ErrorCode, field: &str, message: impl std::fmt::Display) -> Self {
        let mut e = Self::new(code, format!("{field}: {message}"));
        e.body.field = Some(field.to_owned());
        e
    }

    /// `unknown_action`: `action` is none of `actions`.
    pub fn unknown_action(action: &str, actions: &[&str]) -> Self {
        let mut e = Self::new(
            ErrorCode::UnknownAction,
            format!(
                "an agreement has no action {action:?}: use one of {}",
                actions.join(", ")
            ),
        );
        e.body.actions = Some(actions.iter().map(|a| (*a).to_owned()).collect());
        e
    }

    /// The answer's body.
    pub fn body(&self) -> &ErrorBody {
        &self.body
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

/// Marks a response whose call failed to write to the disk: the API's gate
/// turns the node degraded (see [`crate::health`]).
#[derive(Clone, Debug)]
pub(crate) struct WriteFailed(pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let failed = (self.body.code == ErrorCode::Degraded).then(|| self.body.error.clone());
        let mut response = (self.status(), axum::Json(*self.body)).into_response();
        if let Some(reason) = failed {
            response.extensions_mut().insert(WriteFailed(reason));
        }
        response
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let e = match e {
            NodeError::Agreement(e) => return e.into(),
            e => e,
        };
        let code = match &e {
            NodeError::Invalid(OwnError::Invalid(rule)) => {
                return ApiError::new(
                    ErrorCode::InvalidRecord,
                    format!("invalid record ({}): {rule}", rule.rule()),
                )
                .with_rule(rule.rule());
            }
            NodeError::Invalid(OwnError::WouldBeIgnored(why)) => {
                return ApiError::new(ErrorCode::InvalidRecord, e.to_string())
                    .with_rule(why.reason());
            }
            NodeError::IdPrefixTooShort { .. } => {
                return ApiError::field(ErrorCode::IdPrefixTooShort, "id_prefix", &e);
            }
            NodeError::NoSuchListing(_) => ErrorCode::ListingNotFound,
            NodeError::NoSuchVouch(_) => ErrorCode::VouchNotFound,
            NodeError::NotOurListing(_) => ErrorCode::NotYourListing,
            NodeError::NotInMesh(_) => ErrorCode::MeshNotFound,
            NodeError::PrivateMeshNeedsInvite(_) => ErrorCode::InvalidMeshId,
            NodeError::Invite(_) => ErrorCode::InvalidInvite,
            NodeError::ListingExists(_) => ErrorCode::ListingExists,
            NodeError::Withdrawn(_) => ErrorCode::ListingWithdrawn,
            NodeError::Superseded => ErrorCode::Superseded,
            NodeError::OverQuota(quota) => {
                return ApiError::new(ErrorCode::OverQuota, e.to_string()).with_rule(match quota {
                    swapmesh_store::Quota::Topic => "quota_topic",
                    swapmesh_store::Quota::Day => "quota_day",
                });
            }
            NodeError::NoReceipt(_) => ErrorCode::NoReceipt,
            NodeError::NoAddressToShare => ErrorCode::NoAddressToShare,
            NodeError::MissingPhoto(_) => {
                return ApiError::field(ErrorCode::MissingPhoto, "photos", &e);
            }
            NodeError::Photo(photo) => {
                let code = match photo {
                    BlobError::NotAnImage | BlobError::Undecodable(_) => ErrorCode::NotAnImage,
                    BlobError::TooLarge(_) | BlobError::CannotFit { .. } => {
                        ErrorCode::ImageTooLarge
                    }
                    BlobError::NotFound(_) => ErrorCode::PhotoNotFound,
                    BlobError::Timeout { .. } => ErrorCode::PhotoTimeout,
                    _ => ErrorCode::Internal,
                };
                if code != ErrorCode::Internal {
                    // The photo's own sentence, which names the limit.
                    return ApiError::new(code, photo.to_string());
                }
                code
            }
            NodeError::Network(_) | NodeError::Stopped => ErrorCode::NetworkUnavailable,
            NodeError::Store(store) if crate::health::is_disk_failure(store) => ErrorCode::Degraded,
            _ => ErrorCode::Internal,
        };
        if code == ErrorCode::Internal {
            tracing::warn!(error = %e, "API request failed inside the node");
        }
        ApiError::new(code, e.to_string())
    }
}

impl From<AgreeError> for ApiError {
    /// One code per [`AgreeError`] variant, named as [`AgreeError::code`] names
    /// it; a refusal the node has no variant for is `refused` with its code in
    /// `refusal`.
    fn from(e: AgreeError) -> Self {
        let message = e.to_string();
        let code = match &e {
            AgreeError::UnknownAgreement(_) => ErrorCode::UnknownAgreement,
            AgreeError::UnknownListing(_) => ErrorCode::UnknownListing,
            AgreeError::NotYourTurn(_) => ErrorCode::NotYourTurn,
            AgreeError::OutOfOrder(_) => ErrorCode::OutOfOrder,
            AgreeError::Stale { .. } => ErrorCode::Stale,
            AgreeError::Overlaps { period } => {
                let mut err = ApiError::new(ErrorCode::Overlaps, message);
                err.body.period = Some(SpanJson {
                    start: rfc3339(period.start),
                    end: period.end.map(rfc3339),
                });
                return err;
            }
            AgreeError::ListingChanged => ErrorCode::ListingChanged,
            AgreeError::Unavailable => ErrorCode::Unavailable,
            AgreeError::Blocked(_) => ErrorCode::Blocked,
            AgreeError::OfferExpired => ErrorCode::OfferExpired,
            AgreeError::AfterHandover => ErrorCode::AfterHandover,
            AgreeError::OpenAct(_) => ErrorCode::OpenAct,
            AgreeError::NothingToConfirm => ErrorCode::NothingToConfirm,
            AgreeError::Finished => ErrorCode::Finished,
            AgreeError::Pending(_) => ErrorCode::Pending,
            AgreeError::InvalidTerms { rule, .. } => {
                return ApiError::new(ErrorCode::InvalidTerms, message).with_rule(*rule);
            }
            AgreeError::TooMany => ErrorCode::TooMany,
            AgreeError::Refused(refusal) => {
                let mut err = ApiError::new(ErrorCode::Refused, message);
                err.body.refusal = Some(refusal.code().to_owned());
                return err;
            }
            AgreeError::Store(_) | AgreeError::Publish(_) => ErrorCode::Internal,
            AgreeError::Stopped => ErrorCode::NetworkUnavailable,
        };
        if code == ErrorCode::Internal {
            tracing::warn!(error = %e, "agreement request failed inside the node");
        }
        ApiError::new(code, message)
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
    fn every_agreement_error_has_the_code_the_node_names_it_by() {
        use swapmesh_protocol::AgreementId;
        use swapmesh_protocol::agreement::wire::Refusal;
        use swapmesh_protocol::agreement::{EventId, Span};
        use swapmesh_protocol::time::Timestamp;
        let event = EventId([2; 32]);
        let period = Span {
            start: Timestamp(1_800_000_000),
            end: None,
        };
        let named = [
            AgreeError::UnknownAgreement(AgreementId([1; 32])),
            AgreeError::UnknownListing("x".into()),
            AgreeError::NotYourTurn("x".into()),
            AgreeError::OutOfOrder("x".into()),
            AgreeError::Stale { head: event },
            AgreeError::Overlaps { period },
            AgreeError::ListingChanged,
            AgreeError::Unavailable,
            AgreeError::Blocked("x".into()),
            AgreeError::OfferExpired,
            AgreeError::AfterHandover,
            AgreeError::OpenAct(event),
            AgreeError::NothingToConfirm,
            AgreeError::Finished,
            AgreeError::Pending(event),
            AgreeError::invalid("empty_period", "a period that ends where it starts"),
            AgreeError::TooMany,
        ];
        for e in named {
            let name = e.code();
            let api = ApiError::from(NodeError::Agreement(e));
            assert_eq!(api.code().as_str(), name);
        }

        let e = ApiError::from(AgreeError::Overlaps { period });
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let json = serde_json::to_value(e.body()).unwrap();
        assert_eq!(json["period"]["start"], "2027-01-15T08:00:00Z");
        assert!(json["period"]["end"].is_null(), "{json}");
        let e = ApiError::from(AgreeError::invalid("empty_period", "ends where it starts"));
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body().rule.as_deref(), Some("empty_period"));
        assert_eq!(
            ApiError::from(AgreeError::TooMany).status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let e = ApiError::from(AgreeError::Refused(Refusal::TooOld));
        assert_eq!(e.code(), ErrorCode::Refused);
        assert_eq!(e.body().refusal.as_deref(), Some("too_old"));
        assert_eq!(
            ApiError::from(AgreeError::Stopped).code(),
            ErrorCode::NetworkUnavailable
        );
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
