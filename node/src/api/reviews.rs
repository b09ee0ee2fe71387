//! `/reviews`: review the other party of an ended agreement (the review embeds
//! its receipt), list the reviews this node holds of or by a party, and a
//! summary of a party's receipts and reviews (DESIGN §3).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use swapmesh_protocol::social::{Outcome, Receipt, ReceiptStatement};
use swapmesh_protocol::{Content, RecordKind};
use swapmesh_store::{Cursor, StoredRecord};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::convert::rfc3339;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{
    Body, Params, agreement_id, author, bad_parameter, optional_author, page_limit,
};
use super::json::{
    ErrorBody, OutcomeCounts, OutcomeJson, ReceiptJson, ReviewInput, ReviewJson, ReviewPage,
    ReviewSummaryJson, StatementJson,
};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews, add_review))
        .routes(routes!(review_summary))
}

/// Most bytes of a review's text.
const MAX_TEXT: usize = swapmesh_protocol::validate::MAX_REVIEW_TEXT;

impl StatementJson {
    fn of(s: &ReceiptStatement) -> Self {
        Self {
            agreement: s.agreement.to_string(),
            kind: s.deal,
            provider: s.provider.to_string(),
            receiver: s.receiver.to_string(),
            outcome: match s.outcome {
                Outcome::Completed => OutcomeJson::Completed,
                Outcome::Cancelled => OutcomeJson::Cancelled,
                Outcome::Resolved => OutcomeJson::Resolved,
            },
            ended_at: rfc3339(s.ended_at),
            on_time: s.on_time,
        }
    }
}

impl ReceiptJson {
    /// What the API shows of a stored receipt record, if it is one.
    pub(crate) fn of(record: &StoredRecord) -> Option<Self> {
        let Content::Receipt(Receipt { statement, .. }) = &record.body.content else {
            return None;
        };
        Some(Self {
            id: record.id.to_string(),
            statement: StatementJson::of(statement),
            created_at: rfc3339(record.body.created_at),
        })
    }
}

impl ReviewJson {
    /// What the API shows of a review record, if it is one.
    pub(crate) fn of(
        id: swapmesh_protocol::RecordId,
        body: &swapmesh_protocol::RecordBody,
    ) -> Option<Self> {
        let Content::Review(review) = &body.content else {
            return None;
        };
        let statement = &review.receipt.statement;
        Some(Self {
            id: id.to_string(),
            agreement: statement.agreement.to_string(),
            author: body.author.to_string(),
            subject: review.receipt.other_party(&body.author)?.to_string(),
            rating: review.rating,
            text: review.text.clone(),
            version: body.seq,
            created_at: rfc3339(body.created_at),
            receipt: StatementJson::of(statement),
            trust: None,
        })
    }
}

/// Review
///
/// Reviews the other party of one of our agreements that ended with a receipt
/// (completed, cancelled after acceptance, or resolved): the review embeds the
/// receipt, so any node checks it without looking anything up. Reviewing the
/// same agreement again replaces the review everywhere.
#[utoipa::path(
    post,
    path = "/api/v1/reviews",
    tag = "reviews",
    request_body = ReviewInput,
    responses(
        (status = 201, description = "The review, published", body = ReviewJson),
        (status = 400, description = "`invalid_agreement_id`: not 64 hex; `malformed_json`", body = ErrorBody),
        (status = 404, description = "`unknown_agreement`: no agreement of ours with this id", body = ErrorBody),
        (status = 409, description = "`no_receipt`: the agreement has not ended, or its receipt has not come yet", body = ErrorBody),
        (status = 422, description = "`invalid_field` (`rating` outside 1-5, `text` over 2 KiB), `missing_field`, `unknown_field`", body = ErrorBody),
    )
)]
async fn add_review(
    State(state): State<ApiState>,
    Body(input): Body<ReviewInput>,
) -> ApiResult<(StatusCode, Json<ReviewJson>)> {
    let json = publish(state.node(), input).await?;
    Ok((StatusCode::CREATED, Json(json)))
}

/// Publishes a review (the API's route and the agreement page's form).
pub(crate) async fn publish(node: &crate::Node, input: ReviewInput) -> ApiResult<ReviewJson> {
    let id = agreement_id(&input.agreement)
        .map_err(|e| ApiError::field(e.code(), "agreement", &e.body().error))?;
    if !(1..=5).contains(&input.rating) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "rating",
            format!("{} is not a rating from 1 to 5", input.rating),
        ));
    }
    if input.text.len() > MAX_TEXT {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "text",
            format!("a review is at most {MAX_TEXT} bytes"),
        ));
    }
    let published = node.review(&id, input.rating, input.text).await?;
    let mut json =
        ReviewJson::of(published.id(), published.body()).expect("a review we just published");
    json.trust = Some(super::trust::trust_json(node, &published.body().author));
    Ok(json)
}

/// `GET /reviews` parameters: `subject`, `author` or both.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReviewParams {
    /// Reviews of this party (64 hex).
    subject: Option<String>,
    /// Reviews by this party (64 hex).
    author: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// Most reviews in the page (1-500, default 50).
    limit: Option<String>,
}

/// List reviews
///
/// The reviews this node holds of `subject` or by `author` (or both), newest
/// first, one page at a time: pass the answer's `next` as `cursor`.
#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    tag = "reviews",
    params(ReviewParams),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewPage),
        (status = 400, description = "`invalid_parameter` (neither `subject` nor `author`, or a value that does not parse), `invalid_author`, `unknown_parameter`", body = ErrorBody),
    )
)]
async fn list_reviews(
    State(state): State<ApiState>,
    Params(params): Params<ReviewParams>,
) -> ApiResult<Json<ReviewPage>> {
    let subject = optional_author("subject", params.subject.as_deref())?;
    let by = optional_author("author", params.author.as_deref())?;
    let limit = page_limit(params.limit.as_deref())?;
    let cursor = params
        .cursor
        .as_deref()
        .map(|c| c.parse::<Cursor>().map_err(|e| bad_parameter("cursor", e)))
        .transpose()?;
    let party = subject
        .or(by)
        .ok_or_else(|| bad_parameter("subject", "give `subject`, `author` or both"))?;
    let (records, next) = state
        .node()
        .social_of(&party, &[RecordKind::Review], cursor, limit)?;
    let reviews = records
        .iter()
        .filter_map(|r| {
            let mut json = ReviewJson::of(r.id, &r.body)?;
            json.trust = Some(super::trust::trust_json(state.node(), &r.body.author));
            Some(json)
        })
        .filter(|r| subject.is_none_or(|s| r.subject == s.to_string()))
        .filter(|r| by.is_none_or(|a| r.author == a.to_string()))
        .collect();
    Ok(Json(ReviewPage {
        reviews,
        next: next.map(|c| c.to_string()),
    }))
}

/// `GET /reviews/summary` parameters.
#[derive(Deserialize, Debug, Default, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SummaryParams {
    /// The party (64 hex).
    subject: Option<String>,
}

/// Summary of a party
///
/// From what this node holds: the party's receipts by outcome, its returns on
/// time out of those with a return, and the reviews of it with their mean
/// rating.
#[utoipa::path(
    get,
    path = "/api/v1/reviews/summary",
    tag = "reviews",
    params(SummaryParams),
    responses(
        (status = 200, description = "The summary", body = ReviewSummaryJson),
        (status = 400, description = "`invalid_parameter` (no `subject`), `invalid_author`, `unknown_parameter`", body = ErrorBody),
    )
)]
async fn review_summary(
    State(state): State<ApiState>,
    Params(params): Params<SummaryParams>,
) -> ApiResult<Json<ReviewSummaryJson>> {
    let subject = params
        .subject
        .as_deref()
        .ok_or_else(|| bad_parameter("subject", "give the party as `subject`"))?;
    let party = author("subject", subject)?;
    let s = state.node().review_summary(&party)?;
    Ok(Json(ReviewSummaryJson {
        subject: party.to_string(),
        receipts: OutcomeCounts {
            completed: s.completed,
            cancelled: s.cancelled,
            resolved: s.resolved,
        },
        on_time: s.on_time,
        returns: s.returns,
        reviews: s.reviews,
        mean_rating: s.mean_rating,
    }))
}
