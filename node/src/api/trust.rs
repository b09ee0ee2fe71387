//! `/vouches` and `/trust`: vouch for people, take it back, list vouches, and
//! what this node computes of someone's trust (see [`crate::trust`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use swapmesh_protocol::social::{Confidence, Outcome, VouchClaim};
use swapmesh_protocol::{AuthorKey, Content, RecordBody, RecordId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::convert::rfc3339;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, Params, author, optional_author};
use super::json::{
    BlockInput, BlockList, ConfidenceJson, ErrorBody, OutcomeJson, PersonJson, RatingKnownJson,
    TrustDealJson, TrustExplainedJson, TrustJson, TrustReviewJson, VouchClaimJson, VouchInput,
    VouchJson, VouchList,
};
use crate::Node;
use crate::trust::{KNOWN_DISTANCE, Standing};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_vouches, add_vouch))
        .routes(routes!(revoke_vouch))
        .routes(routes!(trust_of))
        .routes(routes!(list_blocks, add_block))
        .routes(routes!(remove_block))
}

/// Most characters of a vouch's note.
const MAX_NOTE: usize = 280;

impl VouchJson {
    /// What the API shows of a vouch record, if it is one.
    pub(crate) fn of(id: RecordId, body: &RecordBody) -> Option<Self> {
        let Content::Vouch(v) = &body.content else {
            return None;
        };
        Some(Self {
            id: id.to_string(),
            author: body.author.to_string(),
            subject: v.subject.to_string(),
            claim: match v.claim {
                VouchClaim::Neighbour => VouchClaimJson::Neighbour,
                VouchClaim::KnownInPerson => VouchClaimJson::KnownInPerson,
                VouchClaim::DealtWith => VouchClaimJson::DealtWith,
            },
            confidence: match v.confidence {
                Confidence::Revoked => ConfidenceJson::Revoked,
                Confidence::Low => ConfidenceJson::Low,
                Confidence::Medium => ConfidenceJson::Medium,
                Confidence::High => ConfidenceJson::High,
            },
            note: v.note.clone(),
            version: body.seq,
            created_at: rfc3339(body.created_at),
            expires_at: rfc3339(body.expires_at),
        })
    }
}

/// Vouch
///
/// Publishes your vouch for `subject` (a new one replaces yours for them). It
/// is public, lives a year at your area and meshes, and your node renews it 30
/// days before it expires: a vouch lasts until you revoke it.
#[utoipa::path(
    post,
    path = "/api/v1/vouches",
    tag = "trust",
    request_body = VouchInput,
    responses(
        (status = 201, description = "The vouch, published", body = VouchJson),
        (status = 400, description = "`invalid_author` (`subject`), `malformed_json`", body = ErrorBody),
        (status = 422, description = "`invalid_field` (`subject` is you, `confidence` `revoked`, `note` over 280 characters), `missing_field`, `unknown_field`", body = ErrorBody),
    )
)]
async fn add_vouch(
    State(state): State<ApiState>,
    Body(input): Body<VouchInput>,
) -> ApiResult<(StatusCode, Json<VouchJson>)> {
    let node = state.node();
    let subject = author("subject", &input.subject)?;
    if subject == node.author() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "subject",
            "you cannot vouch for yourself",
        ));
    }
    let confidence = match input.confidence {
        ConfidenceJson::Low => Confidence::Low,
        ConfidenceJson::Medium => Confidence::Medium,
        ConfidenceJson::High => Confidence::High,
        ConfidenceJson::Revoked => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "confidence",
                "revoke with DELETE /api/v1/vouches/{subject}",
            ));
        }
    };
    if input.note.chars().count() > MAX_NOTE {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "note",
            format!("a note is at most {MAX_NOTE} characters"),
        ));
    }
    let claim = match input.claim {
        VouchClaimJson::Neighbour => VouchClaim::Neighbour,
        VouchClaimJson::KnownInPerson => VouchClaim::KnownInPerson,
        VouchClaimJson::DealtWith => VouchClaim::DealtWith,
    };
    let published = node.vouch(subject, claim, confidence, input.note).await?;
    let json = VouchJson::of(published.id(), published.body()).expect("a vouch we just published");
    Ok((StatusCode::CREATED, Json(json)))
}

/// Revoke a vouch
///
/// Takes your vouch for `subject` back: a newer version, `revoked`, replaces
/// it everywhere; it no longer counts in anyone's trust.
#[utoipa::path(
    delete,
    path = "/api/v1/vouches/{subject}",
    tag = "trust",
    params(("subject" = String, Path, description = "Their author key (64 hex)", example = "0707070707070707070707070707070707070707070707070707070707070707")),
    responses(
        (status = 200, description = "The revoked vouch", body = VouchJson),
        (status = 400, description = "`invalid_author`", body = ErrorBody),
        (status = 404, description = "`vouch_not_found`: no live vouch of yours for them", body = ErrorBody),
    )
)]
async fn revoke_vouch(
    State(state): State<ApiState>,
    Path(subject): Path<String>,
) -> ApiResult<Json<VouchJson>> {
    let subject = author("subject", &subject)?;
    let revoked = state.node().revoke_vouch(subject).await?;
    Ok(Json(
        VouchJson::of(revoked.id(), revoked.body()).expect("a vouch we just published"),
    ))
}

/// `GET /vouches` parameters.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct VouchParams {
    /// Vouches for this person (64 hex).
    subject: Option<String>,
    /// Vouches by this person (64 hex).
    author: Option<String>,
}

/// List vouches
///
/// The live vouches held here (revoked and expired ones left out), for
/// `subject` and by `author` when given.
#[utoipa::path(
    get,
    path = "/api/v1/vouches",
    tag = "trust",
    params(VouchParams),
    responses(
        (status = 200, description = "Live vouches", body = VouchList),
        (status = 400, description = "`invalid_author`, `unknown_parameter`", body = ErrorBody),
    )
)]
async fn list_vouches(
    State(state): State<ApiState>,
    Params(params): Params<VouchParams>,
) -> ApiResult<Json<VouchList>> {
    let subject = optional_author("subject", params.subject.as_deref())?;
    let by = optional_author("author", params.author.as_deref())?;
    let vouches = state
        .node()
        .vouches(by, subject)?
        .iter()
        .filter_map(|r| VouchJson::of(r.id, &r.body))
        .collect();
    Ok(Json(VouchList { vouches }))
}

/// Trust
///
/// What this node computes of `subject`'s trust from where you stand: the
/// score, the vouch distance, who you vouch for vouches for them, and their
/// deals and reviews, counting apart those with people you know. Yours alone:
/// other nodes compute from where their owners stand. An unknown author has
/// score 0 and distance `null`.
#[utoipa::path(
    get,
    path = "/api/v1/trust/{subject}",
    tag = "trust",
    params(("subject" = String, Path, description = "Their author key (64 hex)", example = "0707070707070707070707070707070707070707070707070707070707070707")),
    responses(
        (status = 200, description = "Their trust, from you, and why", body = TrustExplainedJson),
        (status = 400, description = "`invalid_author`", body = ErrorBody),
    )
)]
async fn trust_of(
    State(state): State<ApiState>,
    Path(who): Path<String>,
) -> ApiResult<Json<TrustExplainedJson>> {
    let who = author("subject", &who)?;
    let node = state.node();
    let (standing, why) = node.explain_trust(&who);
    let person = |a: &AuthorKey| person(node, a);
    let hops = |d: Option<u8>| match d {
        Some(d) => format!("{d} vouch hop{} from you", if d == 1 { "" } else { "s" }),
        None => "not within 6 vouch hops of you".to_owned(),
    };
    let known = |d: Option<u8>| d.is_some_and(|d| d <= KNOWN_DISTANCE);
    let deals = why
        .deals
        .iter()
        .map(|seen| TrustDealJson {
            agreement: seen.deal.agreement.to_string(),
            with: person(&seen.other),
            outcome: match seen.deal.outcome {
                Outcome::Completed => OutcomeJson::Completed,
                Outcome::Cancelled => OutcomeJson::Cancelled,
                Outcome::Resolved => OutcomeJson::Resolved,
            },
            known: known(seen.other_distance),
            why: if known(seen.other_distance) {
                format!("with someone you know ({})", hops(seen.other_distance))
            } else {
                format!(
                    "counted in deals only: the other party is {}",
                    hops(seen.other_distance)
                )
            },
        })
        .collect();
    let reviews = why
        .reviews
        .iter()
        .map(|seen| TrustReviewJson {
            agreement: seen.agreement.to_string(),
            by: person(&seen.reviewer),
            rating: seen.rating,
            counted: known(seen.reviewer_distance),
            why: if known(seen.reviewer_distance) {
                format!("by someone you know ({})", hops(seen.reviewer_distance))
            } else {
                format!("left out: its author is {}", hops(seen.reviewer_distance))
            },
        })
        .collect();
    Ok(Json(TrustExplainedJson {
        trust: trust_json_of(node, &who, &standing),
        paths: why
            .paths
            .iter()
            .map(|path| path.iter().map(person).collect())
            .collect(),
        deals,
        reviews,
    }))
}

fn person(node: &Node, author: &AuthorKey) -> PersonJson {
    PersonJson {
        author: author.to_string(),
        name: node.profile(*author).ok().flatten().map(|(_, p)| p.name),
    }
}

/// What the API shows of `who`'s trust.
pub(crate) fn trust_json(node: &Node, who: &AuthorKey) -> TrustJson {
    trust_json_of(node, who, &node.trust_of(who))
}

fn trust_json_of(node: &Node, who: &AuthorKey, standing: &Standing) -> TrustJson {
    TrustJson {
        author: who.to_string(),
        score: standing.score,
        distance: standing.distance,
        vouched_by: standing
            .vouched_by
            .iter()
            .map(|a| person(node, a))
            .collect(),
        deals: standing.deals,
        deals_known: standing.deals_known,
        rating_known: RatingKnownJson {
            mean: standing.rating_known.1,
            count: standing.rating_known.0,
        },
    }
}

/// Block someone
///
/// For you alone: their listings, profile and reviews are hidden from this
/// node's API, search and page, their vouches and deals lend nothing to trust,
/// their new proposals are refused as `unavailable` (they are not told) and
/// yours to them with `409 blocked`. Agreements accepted before go on. The node
/// still stores, syncs and forwards their records, as every node must.
#[utoipa::path(
    post,
    path = "/api/v1/blocks",
    tag = "trust",
    request_body = BlockInput,
    responses(
        (status = 201, description = "Blocked (also when they were already)", body = PersonJson),
        (status = 400, description = "`invalid_author`, `malformed_json`", body = ErrorBody),
        (status = 422, description = "`invalid_field` (`author` is you), `missing_field`, `unknown_field`", body = ErrorBody),
    )
)]
async fn add_block(
    State(state): State<ApiState>,
    Body(input): Body<BlockInput>,
) -> ApiResult<(StatusCode, Json<PersonJson>)> {
    let node = state.node();
    let who = author("author", &input.author)?;
    if who == node.author() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "author",
            "you cannot block yourself",
        ));
    }
    node.block_author(who).await?;
    Ok((StatusCode::CREATED, Json(blocked_person(node, &who))))
}

/// Unblock someone
#[utoipa::path(
    delete,
    path = "/api/v1/blocks/{author}",
    tag = "trust",
    params(("author" = String, Path, description = "Their author key (64 hex)", example = "0909090909090909090909090909090909090909090909090909090909090909")),
    responses(
        (status = 200, description = "Unblocked", body = PersonJson),
        (status = 400, description = "`invalid_author`", body = ErrorBody),
        (status = 404, description = "`block_not_found`: you do not block them", body = ErrorBody),
    )
)]
async fn remove_block(
    State(state): State<ApiState>,
    Path(who): Path<String>,
) -> ApiResult<Json<PersonJson>> {
    let node = state.node();
    let who = author("author", &who)?;
    if !node.unblock_author(who).await? {
        return Err(ApiError::new(
            ErrorCode::BlockNotFound,
            format!("you do not block {who}"),
        ));
    }
    Ok(Json(person(node, &who)))
}

/// List blocks
#[utoipa::path(
    get,
    path = "/api/v1/blocks",
    tag = "trust",
    responses(
        (status = 200, description = "The people you block", body = BlockList),
    )
)]
async fn list_blocks(State(state): State<ApiState>) -> ApiResult<Json<BlockList>> {
    let node = state.node();
    Ok(Json(BlockList {
        blocks: node
            .blocked_authors()
            .iter()
            .map(|a| blocked_person(node, a))
            .collect(),
    }))
}

/// A blocked person, named from their profile if held (the profile is hidden
/// everywhere else).
fn blocked_person(node: &Node, author: &AuthorKey) -> PersonJson {
    PersonJson {
        author: author.to_string(),
        name: node.held_profile_name(author),
    }
}

/// `Ana (5d0c7e21…)`, or the short key alone.
fn person_words(p: &PersonJson) -> String {
    let short = p.author.get(..8).unwrap_or(&p.author);
    match &p.name {
        Some(name) => format!("{name} ({short}…)"),
        None => format!("{short}…"),
    }
}

/// What trust figures say, in words, never a bare number: who you know vouches
/// for them, how far they are, their deals and reviews with people you know.
pub(crate) fn trust_words(t: &TrustJson) -> String {
    let mut parts = Vec::new();
    if let Some(first) = t.vouched_by.first() {
        parts.push(format!("vouched by {}", person_words(first)));
    }
    match t.distance {
        Some(0) => return "you".to_owned(),
        Some(1) => parts.push("you vouch for them".to_owned()),
        Some(d) => parts.push(format!("{d} vouch hops from you")),
        None => parts.push("nobody you know vouches for them".to_owned()),
    }
    let deals = match (t.deals_known, t.deals) {
        (_, 0) => "no deals known here".to_owned(),
        (1, all) => format!("1 deal with people you know ({all} in all)"),
        (known, all) => format!("{known} deals with people you know ({all} in all)"),
    };
    parts.push(deals);
    if let Some(mean) = t.rating_known.mean {
        parts.push(format!(
            "rated {mean:.1} of 5 by {} you know",
            t.rating_known.count
        ));
    }
    parts.join(" · ")
}
