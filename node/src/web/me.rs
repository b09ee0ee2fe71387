//! `/me`: one's own listings and profile. The profile form publishes through
//! the same [`Node::set_profile`](crate::Node::set_profile) as
//! `PUT /api/v1/profile`; a field the protocol refuses is shown beside it and
//! nothing is published.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use swapmesh_protocol::validate::{
    Invalid, MAX_BIO, MAX_CONTACT_CHARS, MAX_CONTACTS, MAX_NAME_CHARS, OwnError,
};

use super::PageSession;
use super::form::CsrfForm;
use super::pages::{ListingView, page};
use crate::api::ApiError;
use crate::api::ApiState;
use crate::api::json::{ListingJson, ProfileInput};
use crate::{Node, NodeError};

/// The profile form as typed, and what is wrong with it.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    bio: String,
    /// One hint a line.
    #[serde(default)]
    contact: String,
    /// The field a refusal names (`name`, `bio`, `contact`), if one.
    #[serde(skip)]
    error_on: String,
    #[serde(skip)]
    field_error: String,
    /// A refusal that names no field.
    #[serde(skip)]
    error: Option<String>,
}

impl ProfileForm {
    /// The form filled in from our published profile (empty if none).
    fn ours(node: &Node) -> Self {
        match node.profile(node.author()) {
            Ok(Some((_, p))) => Self {
                name: p.name,
                bio: p.bio,
                contact: p.contact.join("\n"),
                ..Self::default()
            },
            _ => Self::default(),
        }
    }

    /// The API input: the name trimmed, one contact hint per non-empty line.
    fn input(&self) -> ProfileInput {
        ProfileInput {
            name: self.name.trim().to_owned(),
            bio: self.bio.trim().to_owned(),
            contact: self
                .contact
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            // The page does not show them: the current ones are kept.
            mail_peers: None,
        }
    }

    /// The form with the node's refusal beside the field it names.
    fn refused(mut self, e: NodeError) -> Self {
        match e {
            NodeError::Invalid(OwnError::Invalid(Invalid::BadProfile(field))) => {
                self.field_error = match field {
                    "name" => format!("A name of 1 to {MAX_NAME_CHARS} characters."),
                    "bio" => format!("At most {MAX_BIO} bytes."),
                    _ => format!(
                        "At most {MAX_CONTACTS} lines of up to {MAX_CONTACT_CHARS} characters."
                    ),
                };
                self.error_on = field.to_owned();
            }
            e => self.error = Some(ApiError::from(e).body().error.clone()),
        }
        self
    }
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    nav: &'static str,
    csrf: String,
    listings: Vec<ListingView>,
    profile: ProfileForm,
    /// Our author key (64 hex).
    author: String,
    /// What our receipts and reviews add up to (`GET /reviews/summary`).
    summary: crate::ReviewSummary,
    /// Their mean rating, one decimal.
    mean: Option<String>,
}

/// `/me`: our own listings, paused ones too, and our profile.
pub(super) async fn me(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
) -> Response {
    let profile = ProfileForm::ours(state.node());
    render(&state, session, profile, StatusCode::OK)
}

/// `POST /me/profile`: publishes our profile, then back to `/me`.
pub(super) async fn update_profile(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Response {
    let profile = match form.input().into_profile(state.node()) {
        Ok(profile) => profile,
        Err(e) => return e.into_response(),
    };
    match state.node().set_profile(profile).await {
        Ok(_) => Redirect::to("/me").into_response(),
        Err(e) => render(
            &state,
            session,
            form.refused(e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    }
}

fn render(
    state: &ApiState,
    session: PageSession,
    profile: ProfileForm,
    status: StatusCode,
) -> Response {
    let node = state.node();
    let query = swapmesh_store::Query {
        author: Some(node.author()),
        limit: swapmesh_store::MAX_LIMIT,
        ..swapmesh_store::Query::default()
    };
    let listings = match node.search(&query) {
        Ok(found) => found
            .records
            .iter()
            .filter_map(ListingJson::from_record)
            .map(|l| ListingView::from(&l))
            .collect(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let summary = node.review_summary(&node.author()).unwrap_or_default();
    page(
        status,
        &MePage {
            nav: "me",
            csrf: session.csrf,
            listings,
            profile,
            author: node.author().to_string(),
            mean: summary.mean_rating.map(|m| format!("{m:.1}")),
            summary,
        },
    )
}
