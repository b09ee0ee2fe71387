//! `/agreements`: propose on a listing, counter, accept, decline, withdraw,
//! stop a pending event, show and list (DESIGN §5, §7).
//!
//! An action answers once its event is in the chain (201 for a proposal, 200
//! otherwise, with `delivered` saying whether the other node has it), or with
//! 202 and the event under `pending` when it waits for the provider's node,
//! which the node keeps sending it to.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use swapmesh_protocol::agreement::Action;
use swapmesh_protocol::{AuthorKey, ListingId, RecordId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::convert::parse_rfc3339;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, OptionalBody, agreement_id};
use super::json::{
    AgreementAnswer, AgreementJson, AgreementList, CounterInput, ErrorBody, NoteInput, ProposeInput,
};
use crate::agree::DEFAULT_OFFER;
use crate::{Acted, Node, NodeError};

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_agreements, propose))
        .routes(routes!(show_agreement))
        .routes(routes!(counter))
        .routes(routes!(accept))
        .routes(routes!(decline))
        .routes(routes!(withdraw))
        .routes(routes!(cancel_pending))
}

/// The 409s an action can meet: the node's own checks on its copy of the
/// chain, and the provider's node's refusals.
const CONFLICTS: &[ErrorCode] = &[
    ErrorCode::NotYourTurn,
    ErrorCode::OutOfOrder,
    ErrorCode::Stale,
    ErrorCode::Overlaps,
    ErrorCode::ListingChanged,
    ErrorCode::Unavailable,
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

/// The answer to an action: `done` (201 or 200) once the event is in the
/// chain, 202 while it waits for the provider's node.
fn answer(node: &Node, acted: Acted, done: StatusCode) -> (StatusCode, Json<AgreementAnswer>) {
    let (status, view, delivered) = match acted {
        Acted::InChain { view, delivered } => (done, view, delivered),
        Acted::Pending { view, .. } => (StatusCode::ACCEPTED, view, false),
    };
    let agreement = AgreementJson::of(&view, node.config().clock.now());
    (
        status,
        Json(AgreementAnswer {
            agreement,
            delivered,
        }),
    )
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

/// List agreements
///
/// Every agreement this node has, the most recently changed first.
#[utoipa::path(
    get,
    path = "/api/v1/agreements",
    tag = "agreements",
    responses((status = 200, description = "The agreements", body = AgreementList))
)]
async fn list_agreements(State(state): State<ApiState>) -> ApiResult<Json<AgreementList>> {
    let node = state.node();
    let views = node.agreements()?;
    let now = node.config().clock.now();
    Ok(Json(AgreementList {
        agreements: views.iter().map(|v| AgreementJson::of(v, now)).collect(),
    }))
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
    let node = state.node();
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
    let acted = node.propose(proposal).await?;
    Ok(answer(node, acted, StatusCode::CREATED))
}

/// Show an agreement
#[utoipa::path(
    get,
    path = "/api/v1/agreements/{id}",
    tag = "agreements",
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
    responses(
        (status = 200, description = "The agreement", body = AgreementJson),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
    )
)]
async fn show_agreement(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgreementJson>> {
    let id = agreement_id(&id)?;
    let node = state.node();
    let view = node.agreement(&id)?;
    Ok(Json(AgreementJson::of(&view, node.config().clock.now())))
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
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
    request_body = CounterInput,
    responses(
        (status = 200, description = "The agreement, the counter in its chain", body = AgreementAnswer),
        (status = 202, description = "The agreement with the counter `pending` for the provider's node", body = AgreementAnswer),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 409, description = codes(CONFLICTS), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::InvalidTerms, ErrorCode::UnknownCurrency]), body = ErrorBody),
        (status = 429, description = codes(&[ErrorCode::TooMany]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn counter(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(input): Body<CounterInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    let id = agreement_id(&id)?;
    let node = state.node();
    let kind = node.agreement(&id)?.state.terms.deal.kind();
    let expires = node.config().clock.now().plus(DEFAULT_OFFER);
    let countered = input.check(kind, expires)?;
    let acted = node
        .counter(&id, move |terms| countered.apply(terms), input.note)
        .await?;
    Ok(answer(node, acted, StatusCode::OK))
}

/// Signs `action`, which takes nothing but a note, on agreement `id`.
async fn act(
    state: &ApiState,
    id: &str,
    action: Action,
    note: String,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    let id = agreement_id(id)?;
    let node = state.node();
    let acted = node.act(&id, action, note).await?;
    Ok(answer(node, acted, StatusCode::OK))
}

/// Accept
///
/// Signs the current terms of the other party. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/accept",
    tag = "agreements",
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
    request_body = Option<NoteInput>,
    responses(
        (status = 200, description = "The agreement, accepted", body = AgreementAnswer),
        (status = 202, description = "The agreement with the accept `pending` for the provider's node", body = AgreementAnswer),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 409, description = codes(CONFLICTS), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::InvalidTerms]), body = ErrorBody),
        (status = 429, description = codes(&[ErrorCode::TooMany]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn accept(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    let id = agreement_id(&id)?;
    let node = state.node();
    let acted = node.accept(&id, input.note).await?;
    Ok(answer(node, acted, StatusCode::OK))
}

/// Decline
///
/// No to the other party's current terms. The body may be left out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/decline",
    tag = "agreements",
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
    request_body = Option<NoteInput>,
    responses(
        (status = 200, description = "The agreement, declined", body = AgreementAnswer),
        (status = 202, description = "The agreement with the decline `pending` for the provider's node", body = AgreementAnswer),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 409, description = codes(CONFLICTS), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::InvalidTerms]), body = ErrorBody),
        (status = 429, description = codes(&[ErrorCode::TooMany]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn decline(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    act(&state, &id, Action::Decline, input.note).await
}

/// Withdraw
///
/// Takes back the terms we proposed or countered last. The body may be left
/// out.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/withdraw",
    tag = "agreements",
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
    request_body = Option<NoteInput>,
    responses(
        (status = 200, description = "The agreement, withdrawn", body = AgreementAnswer),
        (status = 202, description = "The agreement with the withdraw `pending` for the provider's node", body = AgreementAnswer),
        (status = 400, description = codes(&[ErrorCode::InvalidAgreementId]), body = ErrorBody),
        (status = 404, description = codes(&[ErrorCode::UnknownAgreement]), body = ErrorBody),
        (status = 409, description = codes(CONFLICTS), body = ErrorBody),
        (status = 422, description = codes(&[ErrorCode::InvalidTerms]), body = ErrorBody),
        (status = 429, description = codes(&[ErrorCode::TooMany]), body = ErrorBody),
        (status = 503, description = codes(&[ErrorCode::NetworkUnavailable]), body = ErrorBody),
    )
)]
async fn withdraw(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    OptionalBody(input): OptionalBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<AgreementAnswer>)> {
    act(&state, &id, Action::Withdraw, input.note).await
}

/// Stop a pending event
///
/// Stops sending our event that waits for the provider's node. If that node
/// took it already, it still applies when its answer arrives.
#[utoipa::path(
    delete,
    path = "/api/v1/agreements/{id}/pending",
    tag = "agreements",
    params(("id" = String, Path, description = "The agreement id (64 hex)", example = "0202020202020202020202020202020202020202020202020202020202020202")),
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
    Path(id): Path<String>,
) -> ApiResult<Json<AgreementJson>> {
    let id = agreement_id(&id)?;
    let node = state.node();
    let view = node.cancel_pending(&id).await?;
    Ok(Json(AgreementJson::of(&view, node.config().clock.now())))
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
        assert_eq!(made["phase"], "offered");
        assert_eq!(made["expired"], false);
        assert_eq!(made["terms"]["kind"], "share");
        assert_eq!(made["terms"]["listing"], format!("{me}.drill"));
        assert_eq!(made["terms"]["version_id"], listing["version_id"]);
        assert_eq!(made["terms"]["receiver"], receiver);
        assert_eq!(made["terms"]["deposit"]["amount"], 2000);
        assert_eq!(made["terms"]["due"], "2030-01-03T00:00:00Z");
        assert_eq!(made["events"][0]["action"]["type"], "propose");
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
        assert_eq!(done["phase"], "withdrawn");
        assert_eq!(done["events"][1]["action"]["type"], "withdraw");
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
