//! `/p/{author}`: a neighbour as this node knows them: their profile, the
//! summary `GET /api/v1/reviews/summary` gives, and their receipts and the
//! reviews of and by them, newest first, a page at a time.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use swapmesh_protocol::{AuthorKey, RecordKind};
use swapmesh_store::Cursor;

use super::PageSession;
use super::pages::{not_found, page};
use super::terms::when;
use crate::api::ApiState;
use crate::api::json::{ReceiptJson, ReviewJson};
use crate::cli::text::name_of;

/// Receipts and reviews on one page.
const PAGE_SIZE: usize = 20;

/// A receipt or a review, as the page lists it.
struct Item {
    /// `receipt` or `review`.
    kind: &'static str,
    at: String,
    /// One line: what ended how, or who rated whom.
    line: String,
    rating: Option<u8>,
    text: String,
    agreement: String,
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    nav: &'static str,
    csrf: String,
    key: String,
    me: bool,
    name: Option<String>,
    bio: String,
    contact: Vec<String>,
    completed: usize,
    cancelled: usize,
    resolved: usize,
    on_time: usize,
    returns: usize,
    reviews: usize,
    mean: Option<String>,
    /// Their trust from where the owner stands, in words.
    trust: String,
    items: Vec<Item>,
    next: Option<String>,
}

/// `GET /p/{author}` parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PersonQuery {
    cursor: String,
}

/// `/p/{author}`.
pub(super) async fn person(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(author): Path<String>,
    Query(query): Query<PersonQuery>,
) -> Response {
    let node = state.node();
    let Ok(party) = author.parse::<AuthorKey>() else {
        return not_found(&session.csrf, format!("{author:?} is not a key (64 hex)."));
    };
    let cursor = query.cursor.parse::<Cursor>().ok();
    let name_of_key = |key: &str| -> String {
        if key == node.author().to_string() {
            return "you".to_owned();
        }
        key.parse()
            .ok()
            .and_then(|k| node.profile(k).ok().flatten())
            .map(|(_, p)| p.name)
            .unwrap_or_else(|| format!("{}…", key.get(..12).unwrap_or(key)))
    };
    let kinds = [RecordKind::Receipt, RecordKind::Review];
    let (records, next) = match node.social_of(&party, &kinds, cursor, PAGE_SIZE) {
        Ok(found) => found,
        Err(e) => return not_found(&session.csrf, e.to_string()),
    };
    let items = records
        .iter()
        .filter_map(|r| {
            if let Some(review) = ReviewJson::of(r.id, &r.body) {
                return Some(Item {
                    kind: "review",
                    at: when(&review.created_at),
                    line: format!(
                        "{} reviewed {}",
                        name_of_key(&review.author),
                        name_of_key(&review.subject)
                    ),
                    rating: Some(review.rating),
                    text: review.text,
                    agreement: review.agreement,
                });
            }
            let receipt = ReceiptJson::of(r)?;
            let s = &receipt.statement;
            let on_time = match s.on_time {
                Some(true) => ", returned on time",
                Some(false) => ", returned late",
                None => "",
            };
            Some(Item {
                kind: "receipt",
                at: when(&s.ended_at),
                line: format!(
                    "{} from {} to {}: {}{on_time}",
                    name_of(&s.kind),
                    name_of_key(&s.provider),
                    name_of_key(&s.receiver),
                    name_of(&s.outcome)
                ),
                rating: None,
                text: String::new(),
                agreement: s.agreement.clone(),
            })
        })
        .collect();
    let summary = node.review_summary(&party).unwrap_or_default();
    let profile = node.profile(party).ok().flatten().map(|(_, p)| p);
    let view = PersonPage {
        nav: if party == node.author() {
            "me"
        } else {
            "browse"
        },
        csrf: session.csrf,
        key: party.to_string(),
        me: party == node.author(),
        name: profile.as_ref().map(|p| p.name.clone()),
        bio: profile.as_ref().map(|p| p.bio.clone()).unwrap_or_default(),
        contact: profile.map(|p| p.contact).unwrap_or_default(),
        completed: summary.completed,
        cancelled: summary.cancelled,
        resolved: summary.resolved,
        on_time: summary.on_time,
        returns: summary.returns,
        reviews: summary.reviews,
        mean: summary.mean_rating.map(|m| format!("{m:.1}")),
        trust: crate::api::trust::trust_words(&crate::api::trust::trust_json(node, &party)),
        items,
        next: next.map(|c| format!("/p/{party}?cursor={c}")),
    };
    page(StatusCode::OK, &view)
}
