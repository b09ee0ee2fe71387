//! `/mailbox`: the mail this node keeps for its neighbours as a home server
//! (see [`crate::mail`]): whom its operator admits, and what it keeps.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use swapmesh_protocol::AuthorKey;
use swapmesh_store::MailQuotas;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::convert::rfc3339;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::extract::{Body, author};
use super::json::{
    ErrorBody, MailboxAdmitInput, MailboxJson, MailboxQuotasJson, MailboxRecipientJson, PersonJson,
};
use crate::Node;

pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(mailbox))
        .routes(routes!(admit))
        .routes(routes!(deny))
}

fn person(node: &Node, author: &AuthorKey) -> PersonJson {
    PersonJson {
        author: author.to_string(),
        name: node.held_profile_name(author),
    }
}

/// The mailbox
///
/// Whom this node keeps mail for and what it keeps: envelopes sealed to
/// their recipients, which it can neither read nor alter. It keeps mail only
/// for people admitted here whose newest profile names this node among its
/// `mail_peers`, within the quotas.
#[utoipa::path(
    get,
    path = "/api/v1/mailbox",
    tag = "mailbox",
    responses(
        (status = 200, description = "The mailbox", body = MailboxJson),
    )
)]
async fn mailbox(State(state): State<ApiState>) -> ApiResult<Json<MailboxJson>> {
    let node = state.node();
    let status = node.mailbox_status()?;
    let quotas = MailQuotas::default();
    Ok(Json(MailboxJson {
        enabled: status.enabled,
        admitted: status.admitted.iter().map(|a| person(node, a)).collect(),
        recipients: status
            .recipients
            .iter()
            .map(|r| MailboxRecipientJson {
                person: person(node, &r.recipient),
                envelopes: r.totals.count,
                bytes: r.totals.bytes,
                oldest: r.oldest.map(rfc3339),
            })
            .collect(),
        quotas: MailboxQuotasJson {
            recipient_envelopes: quotas.recipient.count,
            recipient_bytes: quotas.recipient.bytes,
            sender_envelopes: quotas.sender.count,
            sender_bytes: quotas.sender.bytes,
        },
    }))
}

/// Admit someone to the mailbox
///
/// Keeps mail for them once their profile names this node (also when they
/// were admitted already). Mail is kept only while `mailbox` is `allowed`.
#[utoipa::path(
    post,
    path = "/api/v1/mailbox/admitted",
    tag = "mailbox",
    request_body = MailboxAdmitInput,
    responses(
        (status = 201, description = "Admitted", body = PersonJson),
        (status = 400, description = "`invalid_author`, `malformed_json`", body = ErrorBody),
        (status = 422, description = "`missing_field`, `unknown_field`", body = ErrorBody),
    )
)]
async fn admit(
    State(state): State<ApiState>,
    Body(input): Body<MailboxAdmitInput>,
) -> ApiResult<(StatusCode, Json<PersonJson>)> {
    let node = state.node();
    let who = author("author", &input.author)?;
    node.mailbox_admit(who, true).await?;
    Ok((StatusCode::CREATED, Json(person(node, &who))))
}

/// Stop keeping mail for someone
///
/// Drops the mail kept for them and refuses more.
#[utoipa::path(
    delete,
    path = "/api/v1/mailbox/admitted/{author}",
    tag = "mailbox",
    params(("author" = String, Path, description = "Their author key (64 hex)", example = "0909090909090909090909090909090909090909090909090909090909090909")),
    responses(
        (status = 200, description = "No longer admitted; their mail is gone", body = PersonJson),
        (status = 400, description = "`invalid_author`", body = ErrorBody),
        (status = 404, description = "`not_admitted`: the mailbox does not admit them", body = ErrorBody),
    )
)]
async fn deny(
    State(state): State<ApiState>,
    Path(who): Path<String>,
) -> ApiResult<Json<PersonJson>> {
    let node = state.node();
    let who = author("author", &who)?;
    if !node.mailbox_admit(who, false).await? {
        return Err(ApiError::new(
            ErrorCode::NotAdmitted,
            format!("the mailbox does not admit {who}"),
        ));
    }
    Ok(Json(person(node, &who)))
}
