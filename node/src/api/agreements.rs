//! `/agreements`: propose on a listing, then one route per action (counter,
//! accept, decline, withdraw, handover, return, confirm, extend, cancel,
//! dispute, resolve, note), stop a pending event, show, and list with filters
//! and pages (DESIGN §5, §7).
//!
//! An action answers once its event is in the chain (201 for a proposal, 200
//! otherwise, with `delivered` saying whether the other node has it), or with
//! 202 and the event under `pending` when it waits for the provider's node,
//! which the node keeps sending it to. Every agreement shows `next`: the
//! actions this node may take now.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use swapmesh_protocol::agreement::{Action, EventId, Leg, Phase, Resolution};
use swapmesh_protocol::{AgreementId, AuthorKey, ListingId, RecordId, Timestamp};
use utoipa::IntoParams;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::convert::{money, parse_rfc3339};
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, OptionalBody, Params, agreement_id, bad_parameter, page_limit};
use super::json::{
    AgreementAnswer, AgreementJson, AgreementPage, AgreementSummaryJson, ConfirmInput,
    CounterInput, ErrorBody, ExtendInput, LegInput, LegJson, NoteInput, NoteText, ProposeInput,
    ResolutionJson, ResolveInput,
};
use crate::agree::{DEFAULT_OFFER, ListFilter};
use crate::{Acted, Node, NodeError};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_agreements, propose))
        .routes(routes!(show_agreement))
        .routes(routes!(counter))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(withdraw))
        .routes(routes!(handover))
        .routes(routes!(give_back))
        .routes(routes!(confirm))
        .routes(routes!(extend))
        .routes(routes!(cancel))
        .routes(routes!(dispute))
        .routes(routes!(resolve))
        .routes(routes!(note))
        .routes(routes!(cancel_pending))
        .route(
            "/api/v1/agreements/{id}/{action}",
            axum::routing::post(unknown_action),
        )
}

/// Every action route, as `POST /agreements/{id}/<action>` names it.
pub(crate) const ACTIONS: &[&str] = &[
    "counter", "accept", "decline", "withdraw", "handover", "return", "confirm", "extend",
    "cancel", "dispute", "resolve", "note",
];

/// The 409s an action can meet: the node's own checks on its copy of the
/// chain, and the provider's node's refusals.
const CONFLICTS: &[ErrorCode] = &[
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
];

/// A response's description: the codes it carries, each with its meaning.
fn codes(codes: &[ErrorCode]) -> String {
    codes
        .iter()
        .map(|c| c.doc_line())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The answers of every action on an agreement, documented once.
struct ActionResponses;

impl utoipa::IntoResponses for ActionResponses {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let json = |schema: &str| {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build()
        };
        let answer = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", json("AgreementAnswer"))
                .build()
        };
        let error = |codes_of: &[ErrorCode]| {
            ResponseBuilder::new()
                .description(codes(codes_of))
                .content("application/json", json("ErrorBody"))
                .build()
        };
        [
            ("200", answer("The agreement, the event in its chain")),
            (
                "202",
                answer(
                    "The agreement with the event `pending`: the provider's node has not taken it yet; the node keeps sending it",
                ),
            ),
            (
                "400",
                error(&[ErrorCode::InvalidAgreementId, ErrorCode::MalformedJson]),
            ),
            ("404", error(&[ErrorCode::UnknownAgreement])),
            ("409", error(CONFLICTS)),
            (
                "422",
                error(&[
                    ErrorCode::UnknownField,
                    ErrorCode::MissingField,
                    ErrorCode::InvalidField,
                    ErrorCode::UnknownCurrency,
                    ErrorCode::InvalidTerms,
                ]),
            ),
            ("429", error(&[ErrorCode::TooMany])),
            ("503", error(&[ErrorCode::NetworkUnavailable])),
        ]
        .into_iter()
        .map(|(code, r)| (code.to_owned(), RefOr::T(r)))
        .collect()
    }
}

/// The answer to an action: `done` (201 or 200) once the event is in the
/// chain, 202 while it waits for the provider's node.
fn answer(
    node: &crate::Node,
    acted: Acted,
    done: StatusCode,
) -> (StatusCode, Json<AgreementAnswer>) {
    let (status, view, delivered) = match acted {
        Acted::InChain { view, delivered } => (done, view, delivered),
        Acted::Pending { view, .. } => (StatusCode::ACCEPTED, view, false),
    };
    (
        status,
        Json(AgreementAnswer {
            agreement: with_trust(node, AgreementJson::of(&view)),
            delivered,
        }),
    )
}

/// `json` with the other party's trust, and the listing author's.
fn with_trust(node: &crate::Node, mut json: AgreementJson) -> AgreementJson {
    if let Ok(other) = json.summary.other.parse() {
        json.other_trust = Some(super::trust::trust_json(node, &other));
    }
    if let Ok(author) = json.listing.author.parse() {
        json.listing.trust = Some(super::trust::trust_json(node, &author));
    }
    json
}

/// Most candidates an ambiguous short id lists.
const MAX_CANDIDATES: usize = 10;

/// The listing `text` in field `field` names, as the CLI resolves a short id
/// with `GET /listings?id_prefix=` (DESIGN §7, through
/// [`Node::find_listings`]): a whole id names itself unless it names nothing
/// live and starts exactly one live listing's id; a name of ours names that
/// listing; otherwise a unique start of a live listing's id.
fn listing_named(node: &Node, field: &str, text: &str) -> ApiResult<ListingId> {
    let text = text.trim();
    let found = node
        .find_listings(text, MAX_CANDIDATES + 1)
        .map_err(|e| match e {
            NodeError::IdPrefixTooShort { .. } => {
                ApiError::field(ErrorCode::IdPrefixTooShort, field, e)
            }
            e => e.into(),
        })?;
    let ids: Vec<(ListingId, String)> = found
        .iter()
        .filter_map(|r| {
            let l = r.body.listing()?;
            let id = ListingId {
                author: r.body.author,
                d: l.d.clone(),
            };
            Some((id, l.title.clone()))
        })
        .collect();
    if let Ok(whole) = text.parse::<ListingId>()
        && (ids.is_empty() || ids.iter().any(|(id, _)| *id == whole))
    {
        return Ok(whole);
    }
    match ids.as_slice() {
        [] => Err(ApiError::field(
            ErrorCode::UnknownListing,
            field,
            format!(
                "no listing here matches {text:?}: give the name of one of your listings, or at least 8 characters of a listing id"
            ),
        )),
        [(one, _)] => Ok(one.clone()),
        many => {
            let shown: Vec<String> = many
                .iter()
                .take(MAX_CANDIDATES)
                .map(|(id, title)| format!("{id} ({title})"))
                .collect();
            let more = if many.len() > MAX_CANDIDATES {
                ", …"
            } else {
                ""
            };
            Err(ApiError::field(
                ErrorCode::InvalidField,
                field,
                format!(
                    "{text:?} matches several listings, give more of the id: {}{more}",
                    shown.join(", ")
                ),
            ))
        }
    }
}

fn parsed<T: std::str::FromStr>(field: &str, text: Option<&str>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    text.map(|t| {
        t.parse()
            .map_err(|e| ApiError::field(ErrorCode::InvalidField, field, e))
    })
    .transpose()
}

/// The agreement a route names.
#[derive(Deserialize, Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct AgreementPath {
    /// The agreement id (64 hex).
    #[param(example = "0202020202020202020202020202020202020202020202020202020202020202")]
    id: String,
}

impl AgreementPath {
    fn id(&self) -> ApiResult<AgreementId> {
        agreement_id(&self.id)
    }
}

/// `GET /agreements` parameters.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only agreements in this state (`offered`, `accepted`, `active`,
    /// `disputed`, `completed`, `declined`, `withdrawn`, `cancelled`,
    /// `resolved`), or `overdue` for those with an item overdue.
    pub(crate) state: Option<String>,
    /// Only those where this node is the `provider` or the `receiver`.
    pub(crate) role: Option<String>,
    /// Only those on this listing (either item of a swap): its id, the name of
    /// one of ours, or a unique start of its id.
    pub(crate) listing: Option<String>,
    /// At least 8 hex characters that start agreement ids.
    pub(crate) id_prefix: Option<String>,
    /// The `next` of the previous page.
    pub(crate) cursor: Option<String>,
    /// Most agreements in the page (1-500, default 50).
    pub(crate) limit: Option<String>,
}

/// The shortest agreement id prefix taken.
const MIN_PREFIX: usize = 8;

/// A page cursor: the head time and id of the last agreement shown.
fn cursor_text(at: Timestamp, id: &AgreementId) -> String {
    format!("{:016x}{id}", at.secs())
}

fn parse_cursor(text: &str) -> ApiResult<(Timestamp, AgreementId)> {
    let bad = || bad_parameter("cursor", format!("{text:?} is not a cursor this API gave"));
    if text.len() != 80 || !text.is_ascii() {
        return Err(bad());
    }
    let at = u64::from_str_radix(&text[..16], 16).map_err(|_| bad())?;
    let id = text[16..].parse::<AgreementId>().map_err(|_| bad())?;
    Ok((Timestamp(at), id))
}

impl ListParams {
    fn filter(&self, node: &Node) -> ApiResult<ListFilter> {
        let limit = page_limit(self.limit.as_deref())?;
        let mut filter = ListFilter {
            limit,
            ..ListFilter::default()
        };
        match self.state.as_deref() {
            None => {}
            Some("overdue") => filter.overdue = true,
            Some(text) => {
                filter.phase = Some(
                    serde_json::from_value::<Phase>(serde_json::Value::String(text.to_owned()))
                        .map_err(|_| {
                            bad_parameter(
                                "state",
                                format!(
                                    "unknown state {text:?}; use offered, accepted, active, disputed, completed, declined, withdrawn, cancelled, resolved or overdue"
                                ),
                            )
                        })?,
                );
            }
        }
        filter.provider = match self.role.as_deref() {
            None => None,
            Some("provider") => Some(true),
            Some("receiver") => Some(false),
            Some(text) => {
                return Err(bad_parameter(
                    "role",
                    format!("unknown role {text:?}; use provider or receiver"),
                ));
            }
        };
        if let Some(text) = &self.listing {
            filter.listing = Some(listing_named(node, "listing", text).map_err(|e| {
                if e.code() == ErrorCode::InvalidField {
                    bad_parameter("listing", &e.body().error)
                } else {
                    e
                }
            })?);
        }
        if let Some(prefix) = &self.id_prefix {
            let prefix = prefix.trim().to_ascii_lowercase();
            if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) || prefix.len() > 64 {
                return Err(bad_parameter(
                    "id_prefix",
                    format!("{prefix:?} is not the start of an agreement id (hex)"),
                ));
            }
            if prefix.len() < MIN_PREFIX {
                return Err(ApiError::field(
                    ErrorCode::IdPrefixTooShort,
                    "id_prefix",
                    format!("give at least {MIN_PREFIX} characters of the agreement id"),
                ));
            }
            filter.id_prefix = Some(prefix);
        }
        if let Some(cursor) = &self.cursor {
            filter.before = Some(parse_cursor(cursor)?);
        }
        Ok(filter)
    }
}

/// List agreements
///
/// The agreements this node has, the most recently changed first, one page at
/// a time: pass the answer's `next` as `cursor` for the next page. Each shows
/// `next`, the actions this node may take on it now.
#[utoipa::path(
    get,
    path = "/api/v1/agreements",
    tag = "agreements",
    params(ListParams),
    responses(
        (status = 200, description = "A page of agreements", body = AgreementPage),
        (status = 400, description = codes(&[ErrorCode::InvalidParameter, ErrorCode::UnknownParameter, ErrorCode::IdPrefixTooShort]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownListing]), body = ErrorBody),
    )
)]
async fn list_agreements(
    State(state): State<ApiState>,
    Params(params): Params<ListParams>,
) -> ApiResult<Json<AgreementPage>> {
    list(state.node(), &params).map(Json)
}

/// A page of agreements by `params` (the API's list and the page's inbox).
pub(crate) fn list(node: &Node, params: &ListParams) -> ApiResult<AgreementPage> {
    let filter = params.filter(node)?;
    let (found, more) = node.agreements(&filter)?;
    let next = more
        .then(|| found.last())
        .flatten()
        .map(|s| cursor_text(s.state.head_at, &s.state.id));
    Ok(AgreementPage {
        agreements: found.iter().map(AgreementSummaryJson::of).collect(),
        next,
    })
}

/// Propose
///
/// Proposes terms on a listing: on another's, to its author (we receive); on
/// one of ours, to `receiver`. The provider's node sequences the agreement:
/// a proposal to another node waits for it (202) if it has not taken it
/// within a few seconds.
#[utoipa::path(
    post,
    path = "/api/v1/agreements",
    tag = "agreements",
    request_body = ProposeInput,
    responses(
        (status = 201, description = "The agreement, the proposal in its chain", body = AgreementAnswer),
        (status = 202, description = "The agreement with the proposal `pending`: the provider's node has not taken it yet; the node keeps sending it", body = AgreementAnswer),
        (status = 400, description = codes(&[ErrorCode::IdPrefixTooShort]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownListing]), body = ErrorBody),
        (status = 409, description = codes(CONFLICTS), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::InvalidTerms, ErrorCode::UnknownCurrency]), body = ErrorBody),
        (status = 429, description = codes(&[ErrorCode::TooMany]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn propose(
    State(state): State<ApiState>,
    Body(input): Body<ProposeInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    let acted = propose_with(state.node(), input).await?;
    Ok(answer(state.node(), acted, StatusCode::CREATED))
}

/// Proposes `input` (the API's route and the listing page's form).
pub(crate) async fn propose_with(node: &Node, input: ProposeInput) -> ApiResult<Acted> {
    let deal = input.deal()?;
    let version = parsed::<RecordId>("version_id", input.version_id.as_deref())?;
    let receiver = parsed::<AuthorKey>("receiver", input.receiver.as_deref())?;
    let offer_expires = input
        .offer_expires
        .as_deref()
        .map(|t| {
            parse_rfc3339(t)
                .map_err(|e| ApiError::field(ErrorCode::InvalidField, "offer_expires", e))
        })
        .transpose()?;
    let listing = listing_named(node, "listing", &input.listing)?;
    let theirs = input
        .theirs
        .as_deref()
        .map(|t| listing_named(node, "theirs", t))
        .transpose()?;
    let proposal = crate::Proposal {
        listing,
        version,
        receiver,
        deal,
        theirs,
        pickup: input.pickup,
        offer_expires,
        note: input.note,
    };
    Ok(node.propose(proposal).await?)
}

/// Show an agreement
///
/// Its terms, the kept copy of the listing, every event (from their signed
/// bytes: both nodes show the same), our pending event and how sending it
/// goes, the notes, and `next`.
#[utoipa::path(
    get,
    path = "/api/v1/agreements/{id}",
    tag = "agreements",
    params(AgreementPath),
    responses(
        (status = 200, description = "The agreement", body = AgreementJson),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
    )
)]
async fn show_agreement(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
) -> ApiResult<Json<AgreementJson>> {
    let id = path.id()?;
    let view = state.node().agreement(&id)?;
    Ok(Json(with_trust(state.node(), AgreementJson::of(&view))))
}

/// Counter
///
/// New terms in answer to the current ones: the terms given replace them, the
/// rest stay, `null` takes an optional term away. The countered offer stands
/// 7 days unless `offer_expires` says.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/counter",
    tag = "agreements",
    params(AgreementPath),
    request_body = CounterInput,
    responses(ActionResponses)
)]
async fn counter(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    Body(input): Body<CounterInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Counter(Box::new(input))).await
}

/// The body of one action's route, `POST /agreements/{id}/<action>` (the
/// API's routes and the agreement page's forms build it).
#[derive(Debug)]
pub(crate) enum ActionBody {
    Counter(Box<CounterInput>),
    Accept(NoteInput),
    Decline(NoteInput),
    Withdraw(NoteInput),
    Handover(LegInput),
    Return(LegInput),
    Confirm(ConfirmInput),
    Extend(ExtendInput),
    Cancel(NoteInput),
    Dispute(NoteInput),
    Resolve(ResolveInput),
}

/// Signs the action of `body` on agreement `id`, checked as its route checks
/// it.
pub(crate) async fn perform(node: &Node, id: AgreementId, body: ActionBody) -> ApiResult<Acted> {
    let plain =
        |action: Action, note: String| async move { Ok(node.act(&id, action, note).await?) };
    match body {
        ActionBody::Counter(input) => {
            let kind = node.agreement(&id)?.state.terms.deal.kind();
            let expires = node.config().clock.now().plus(DEFAULT_OFFER);
            let countered = input.check(kind, expires)?;
            Ok(node
                .counter(&id, move |terms| countered.apply(terms), input.note)
                .await?)
        }
        ActionBody::Accept(input) => Ok(node.accept(&id, input.note).await?),
        ActionBody::Decline(input) => plain(Action::Decline, input.note).await,
        ActionBody::Withdraw(input) => plain(Action::Withdraw, input.note).await,
        ActionBody::Cancel(input) => plain(Action::Cancel, input.note).await,
        ActionBody::Dispute(input) => plain(Action::Dispute, input.note).await,
        ActionBody::Handover(input) => {
            let leg = leg_of(node, &id, input.leg, false)?;
            plain(Action::Handover { leg }, input.note).await
        }
        ActionBody::Return(input) => {
            let leg = leg_of(node, &id, input.leg, true)?;
            plain(Action::Return { leg }, input.note).await
        }
        ActionBody::Confirm(input) => {
            let deposit_returned = input
                .deposit_returned
                .as_ref()
                .map(|m| money("deposit_returned", m))
                .transpose()?;
            let of = match parsed::<EventId>("of", input.of.as_deref())? {
                Some(of) => of,
                None => {
                    let state = node.agreement(&id)?.state;
                    let other = state.terms.other(&node.author());
                    state
                        .open_act_of(&other)
                        .map(|open| open.event)
                        .ok_or_else(|| {
                            ApiError::new(
                                ErrorCode::NothingToConfirm,
                                "nothing of the other party's is open to confirm",
                            )
                        })?
                }
            };
            let action = Action::Confirm {
                of,
                deposit_returned,
            };
            plain(action, input.note).await
        }
        ActionBody::Extend(input) => {
            let due = parse_rfc3339(&input.due)
                .map_err(|e| ApiError::field(ErrorCode::InvalidField, "due", e))?;
            plain(Action::Extend { due }, input.note).await
        }
        ActionBody::Resolve(input) => {
            let outcome = match input.outcome {
                ResolutionJson::Returned => Resolution::Returned,
                ResolutionJson::Kept => Resolution::Kept,
                ResolutionJson::Other => Resolution::Other,
            };
            plain(Action::Resolve { outcome }, input.note).await
        }
    }
}

/// The answer of a route: `body` performed on the agreement of `path`.
async fn done(
    state: &ApiState,
    path: AgreementPath,
    body: ActionBody,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    let acted = perform(state.node(), path.id()?, body).await?;
    Ok(answer(state.node(), acted, StatusCode::OK))
}

/// Accept
///
/// Signs the current terms of the other party. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/accept",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<NoteInput>,
    responses(ActionResponses)
)]
async fn accept(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Accept(input)).await
}

/// Decline
///
/// No to the other party's current terms, or to its open extend or resolve.
/// The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/decline",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<NoteInput>,
    responses(ActionResponses)
)]
async fn decline(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Decline(input)).await
}

/// Withdraw
///
/// Takes back the terms we proposed or countered last. The body may be left
/// out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/withdraw",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<NoteInput>,
    responses(ActionResponses)
)]
async fn withdraw(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Withdraw(input)).await
}

/// The leg a `handover` (or a `return`) names, or the one that is this
/// node's to sign.
fn leg_of(node: &Node, id: &AgreementId, leg: Option<LegJson>, returning: bool) -> ApiResult<Leg> {
    Ok(match leg {
        Some(LegJson::Provider) => Leg::Provider,
        Some(LegJson::Receiver) => Leg::Receiver,
        None => node.agreement(id)?.state.leg_for(node.author(), returning),
    })
}

/// Hand over
///
/// The owner of an item hands it over (the other party confirms). In a swap,
/// `leg` may name whose item; by default this node's own. The body may be
/// left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/handover",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<LegInput>,
    responses(ActionResponses)
)]
async fn handover(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<LegInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Handover(input)).await
}

/// Return
///
/// The item comes back to its owner (who confirms, saying what deposit it
/// gave back). In a swap, `leg` may name whose item; by default the other
/// party's. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/return",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<LegInput>,
    responses(ActionResponses)
)]
async fn give_back(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<LegInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Return(input)).await
}

/// Confirm
///
/// The other party's open act (a handover, return, extend or resolve)
/// happened: `of` names it, by default the one open. On a return,
/// `deposit_returned` says what deposit was given back. The body may be left
/// out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/confirm",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<ConfirmInput>,
    responses(ActionResponses)
)]
async fn confirm(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<ConfirmInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Confirm(input)).await
}

/// Extend
///
/// Asks for a later due date; it holds once the other party confirms.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/extend",
    tag = "agreements",
    params(AgreementPath),
    request_body = ExtendInput,
    responses(ActionResponses)
)]
async fn extend(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    Body(input): Body<ExtendInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Extend(input)).await
}

/// Cancel
///
/// Ends an accepted agreement before any handover (a rent's `cancel_before`
/// binds the receiver); on a lease, gives notice. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/cancel",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<NoteInput>,
    responses(ActionResponses)
)]
async fn cancel(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Cancel(input)).await
}

/// Dispute
///
/// Something went wrong: from now on only a confirmed resolve ends the
/// agreement. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/dispute",
    tag = "agreements",
    params(AgreementPath),
    request_body = Option<NoteInput>,
    responses(ActionResponses)
)]
async fn dispute(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Dispute(input)).await
}

/// Resolve
///
/// Proposes how a dispute ends (`returned`, `kept`, `other`); it ends once
/// the other party confirms.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/resolve",
    tag = "agreements",
    params(AgreementPath),
    request_body = ResolveInput,
    responses(ActionResponses)
)]
async fn resolve(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    Body(input): Body<ResolveInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    done(&state, path, ActionBody::Resolve(input)).await
}

/// Note
///
/// A message to the other party beside the chain: signed, kept by both nodes,
/// delivered like the events. Allowed at any time.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/note",
    tag = "agreements",
    params(AgreementPath),
    request_body = NoteText,
    responses(
        (status = 200, description = "The agreement, the note among its notes", body = AgreementJson),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId, ErrorCode::MalformedJson]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::UnknownField, ErrorCode::MissingField, ErrorCode::InvalidField]), body = ErrorBody),
    )
)]
async fn note(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
    Body(input): Body<NoteText>,
) -> ApiResult<Json<AgreementJson>> {
    let view = add_note(state.node(), path.id()?, input).await?;
    Ok(Json(with_trust(state.node(), AgreementJson::of(&view))))
}

/// Signs and sends a note (the API's route and the page's note form).
pub(crate) async fn add_note(
    node: &Node,
    id: AgreementId,
    input: NoteText,
) -> ApiResult<crate::agree::AgreementView> {
    use swapmesh_protocol::agreement::wire::MAX_NOTE_TEXT;
    if input.text.len() > MAX_NOTE_TEXT {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "text",
            format!("a note is at most {MAX_NOTE_TEXT} bytes"),
        ));
    }
    Ok(node.note(&id, input.text).await?)
}

/// Any other `POST /agreements/{id}/<action>`: 404 naming the actions.
async fn unknown_action(Path((id, action)): Path<(String, String)>) -> ApiError {
    match agreement_id(&id) {
        Err(e) => e,
        Ok(_) => ApiError::unknown_action(&action, ACTIONS),
    }
}

/// Stop a pending event
///
/// Stops sending our event that waits for the provider's node. If that node
/// took it already, it still applies when its answer arrives.
#[utoipa::path(
    delete,
    path = "/api/v1/agreements/{id}/pending",
    tag = "agreements",
    params(AgreementPath),
    responses(
        (status = 200, description = "The agreement, nothing of ours pending", body = AgreementJson),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 409, description = codes(&[ErrorCode::OutOfOrder]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn cancel_pending(
    State(state): State<ApiState>,
    Path(path): Path<AgreementPath>,
) -> ApiResult<Json<AgreementJson>> {
    let id = path.id()?;
    let view = state.node().cancel_pending(&id).await?;
    Ok(Json(with_trust(state.node(), AgreementJson::of(&view))))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use serde_json::{Value, json};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::NodeConfig;

    /// A node and its API on 127.0.0.1, in this process.
    struct Api {
        node: Node,
        addr: SocketAddr,
        _dir: tempfile::TempDir,
    }

    const TOKEN: &str = "agreements-test-token";

    async fn api() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::new(dir.path());
        config.mdns = false;
        // Nobody else is there: answer soon with what we have.
        config.agreement_ack_wait = Duration::from_millis(100);
        let node = Node::start(config).await.expect("node starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = super::super::router(ApiState::new(node.clone(), TOKEN.into(), addr, &[]));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            node,
            addr,
            _dir: dir,
        }
    }

    /// One HTTP/1.1 request; the status and the body as JSON.
    async fn call(api: &Api, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n",
            api.addr
        );
        if let Some(b) = &body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.as_deref().unwrap_or(""));
        let mut stream = tokio::net::TcpStream::connect(api.addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let status = answer[9..12].parse().unwrap();
        let start = answer.find("\r\n\r\n").map_or(answer.len(), |i| i + 4);
        (
            status,
            serde_json::from_str(&answer[start..]).unwrap_or(Value::Null),
        )
    }

    fn share(listing: &str, start: &str, due: &str) -> Value {
        json!({"listing": listing, "kind": "share", "start": start, "due": due})
    }

    #[tokio::test]
    async fn agreements_through_the_api_name_what_is_wrong_and_answer_with_the_chain() {
        let api = api().await;
        let me = api.node.author().to_string();
        let (status, listing) = call(
            &api,
            "POST",
            "/api/v1/listings",
            Some(json!({"d": "drill", "kinds": ["share", "give"], "title": "Drill"})),
        )
        .await;
        assert_eq!(status, 201, "{listing}");

        // Ids that name nothing, or are not ids.
        let nothing = "0".repeat(64);
        let (status, body) =
            call(&api, "GET", &format!("/api/v1/agreements/{nothing}"), None).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &json!("unknown_agreement")),
            "{body}"
        );
        let (status, body) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{nothing}/accept"),
            None,
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (404, &json!("unknown_agreement")),
            "{body}"
        );
        let (status, body) = call(&api, "GET", "/api/v1/agreements/not-an-id", None).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &json!("invalid_agreement_id")),
            "{body}"
        );

        // A malformed body names its field.
        let mut bad = share("drill", "2030-01-01T00:00:00Z", "soon");
        bad["receiver"] = json!("ab".repeat(32));
        let (status, body) = call(&api, "POST", "/api/v1/agreements", Some(bad)).await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("invalid_field")),
            "{body}"
        );
        assert_eq!(body["field"], "due");
        let mut bad = share("drill", "2030-01-01T00:00:00Z", "2030-01-03T00:00:00Z");
        bad["price"] = json!({"amount": 5, "currency": "EUR", "per": "day"});
        let (status, body) = call(&api, "POST", "/api/v1/agreements", Some(bad)).await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("unknown_field")),
            "{body}"
        );
        assert_eq!(body["field"], "price");
        let (status, body) = call(
            &api,
            "POST",
            "/api/v1/agreements",
            Some(json!({"listing": "drill", "kind": "give", "from": "2030-01-01T00:00:00Z"})),
        )
        .await;
        assert_eq!((status, &body["field"]), (422, &json!("until")), "{body}");

        // The listing by a short id that names nothing; our own without a receiver.
        let receiver = "ab".repeat(32);
        let (status, body) = call(
            &api,
            "POST",
            "/api/v1/agreements",
            Some(share(
                "no-such-thing",
                "2030-01-01T00:00:00Z",
                "2030-01-03T00:00:00Z",
            )),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (404, &json!("unknown_listing")),
            "{body}"
        );
        let (status, body) = call(
            &api,
            "POST",
            "/api/v1/agreements",
            Some(share(
                "drill",
                "2030-01-01T00:00:00Z",
                "2030-01-03T00:00:00Z",
            )),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("invalid_terms")),
            "{body}"
        );
        assert_eq!(body["rule"], "receiver");

        // A proposal on our listing, by its name, to a receiver: in the chain at
        // once (we sequence it), not delivered (nobody is there).
        let mut good = share("drill", "2030-01-01T00:00:00Z", "2030-01-03T00:00:00Z");
        good["receiver"] = json!(receiver);
        good["deposit"] = json!({"amount": 2000, "currency": "EUR"});
        good["note"] = json!("Yours for the weekend.");
        let (status, made) = call(&api, "POST", "/api/v1/agreements", Some(good.clone())).await;
        assert_eq!(status, 201, "{made}");
        assert_eq!(made["delivered"], false);
        assert_eq!(made["role"], "provider");
        assert_eq!(made["state"], "offered");
        assert_eq!(made["expired"], false);
        assert_eq!(made["terms"]["kind"], "share");
        assert_eq!(made["terms"]["listing"], format!("{me}.drill"));
        assert_eq!(made["terms"]["version_id"], listing["version_id"]);
        assert_eq!(made["terms"]["receiver"], receiver);
        assert_eq!(made["terms"]["deposit"]["amount"], 2000);
        assert_eq!(made["terms"]["due"], "2030-01-03T00:00:00Z");
        assert_eq!(made["events"][0]["action"], "propose");
        assert_eq!(made["events"][0]["note"], "Yours for the weekend.");
        assert!(made["pending"].is_null());
        let id = made["id"].as_str().unwrap().to_owned();
        assert_eq!(made["head"], id.as_str(), "the proposal is the head");

        let (status, shown) = call(&api, "GET", &format!("/api/v1/agreements/{id}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(shown["terms"], made["terms"]);
        let (status, list) = call(&api, "GET", "/api/v1/agreements", None).await;
        assert_eq!(status, 200);
        assert_eq!(list["agreements"][0]["id"], id.as_str());

        // The item is held for it: another proposal for those days overlaps.
        let mut other = share("drill", "2030-01-02T00:00:00Z", "2030-01-04T00:00:00Z");
        other["receiver"] = json!("cd".repeat(32));
        let (status, body) = call(&api, "POST", "/api/v1/agreements", Some(other)).await;
        assert_eq!((status, &body["code"]), (409, &json!("overlaps")), "{body}");
        assert_eq!(body["period"]["start"], "2030-01-01T00:00:00Z");
        assert_eq!(body["period"]["end"], "2030-01-03T00:00:00Z");

        // Not ours to answer; a counter keeps the kind.
        let (status, body) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{id}/accept"),
            None,
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (409, &json!("not_your_turn")),
            "{body}"
        );
        let (status, body) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{id}/counter"),
            Some(json!({"kind": "give"})),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("invalid_terms")),
            "{body}"
        );
        assert_eq!(body["rule"], "counter_changes_deal");
        let (status, body) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{id}/counter"),
            Some(json!({"deposit": null})),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (409, &json!("not_your_turn")),
            "{body}"
        );
        let (status, body) = call(
            &api,
            "DELETE",
            &format!("/api/v1/agreements/{id}/pending"),
            None,
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (409, &json!("out_of_order")),
            "{body}"
        );

        // We take it back; then it has ended.
        let (status, done) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{id}/withdraw"),
            Some(json!({"note": "Sorry, it broke."})),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        assert_eq!(done["state"], "withdrawn");
        assert_eq!(done["events"][1]["action"], "withdraw");
        assert_eq!(done["events"][1]["note"], "Sorry, it broke.");
        let (status, body) = call(
            &api,
            "POST",
            &format!("/api/v1/agreements/{id}/decline"),
            None,
        )
        .await;
        assert_eq!((status, &body["code"]), (409, &json!("finished")), "{body}");

        api.node.shutdown().await.unwrap();
    }
}
