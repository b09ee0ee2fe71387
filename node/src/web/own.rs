//! The pages for one's own listings: `/new`, `/l/{id}/edit`, pausing and
//! withdrawing (`/me` lists them). Forms go through the API's input types and the
//! same [`Node`](crate::Node) calls, so page, API and CLI agree; a bad field
//! is shown beside it and nothing is published.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use swapmesh_protocol::listing::{ListingStatus, Purpose};
use swapmesh_protocol::{Currency, ListingId};

use super::PageSession;
use super::form::{CsrfForm, PageForm};
use super::pages::page;
use crate::api::ApiError;
use crate::api::json::{ListingInput, ListingJson, MoneyJson, PriceJson};
use crate::cli::money::minor_units;
use crate::cli::text::name_of;
use crate::{Node, NodeError};

const KINDS: [&str; 5] = ["swap", "rent", "lease", "share", "give"];
const PERIODS: [&str; 4] = ["hour", "day", "week", "month"];

/// The listing form as typed, and what is wrong with it.
#[derive(Debug, Default, Clone)]
pub(super) struct ListingForm {
    pub(super) purpose: String,
    pub(super) title: String,
    pub(super) kinds: Vec<String>,
    pub(super) price: String,
    pub(super) per: String,
    pub(super) deposit: String,
    pub(super) description: String,
    pub(super) category: String,
    pub(super) tags: String,
    /// The photos the listing names now, in order (hex hashes; edit only).
    pub(super) photos: Vec<String>,
    /// Photos ticked for removal.
    pub(super) remove: Vec<String>,
    /// Each kept photo's place as chosen (1 = first), by hash.
    pub(super) places: Vec<(String, usize)>,
    /// The field a refusal names (`title`, `kinds`, `price`, …), if one.
    pub(super) error_on: String,
    /// What is wrong with it.
    pub(super) field_error: String,
    /// A refusal that names no field.
    pub(super) error: Option<String>,
    /// Where a new listing goes: empty for the area and the open meshes, or a
    /// private mesh's id (only there).
    pub(super) place: String,
}

impl ListingForm {
    /// The form of the posted pairs (a repeated `kind` per box ticked).
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut form = Self::default();
        for (k, v) in pairs {
            match k.as_str() {
                "purpose" => form.purpose = v.clone(),
                "title" => form.title = v.clone(),
                "kind" => form.kinds.push(v.clone()),
                "price" => form.price = v.clone(),
                "per" => form.per = v.clone(),
                "deposit" => form.deposit = v.clone(),
                "description" => form.description = v.clone(),
                "category" => form.category = v.clone(),
                "tags" => form.tags = v.clone(),
                "place" => form.place = v.clone(),
                "photo_keep" => form.photos.push(v.clone()),
                "photo_remove" => form.remove.push(v.clone()),
                other => {
                    if let Some(hash) = other.strip_prefix("photo_place_")
                        && let Ok(place) = v.parse()
                    {
                        form.places.push((hash.to_owned(), place));
                    }
                }
            }
        }
        form
    }

    /// The form filled in from a listing of ours.
    fn of(l: &ListingJson) -> Self {
        let amount = super::terms::typed;
        Self {
            purpose: name_of(&l.purpose),
            title: l.title.clone(),
            kinds: l.kinds.iter().map(name_of).collect(),
            price: l
                .price
                .as_ref()
                .map(|p| amount(&p.money()))
                .unwrap_or_default(),
            per: l
                .price
                .as_ref()
                .map(|p| name_of(&p.per))
                .unwrap_or_default(),
            deposit: l.deposit.as_ref().map(amount).unwrap_or_default(),
            description: l.description.clone(),
            category: l.category.clone(),
            tags: l.tags.join(", "),
            photos: l.photos.clone(),
            ..Self::default()
        }
    }

    /// The places offered for each photo on the page (1 = first).
    pub(super) fn places_for(&self) -> Vec<usize> {
        (1..=self.photos.len()).collect()
    }

    /// The photos kept, in the chosen order (ties keep the old order), then
    /// `added` after them.
    fn photo_order(&self, added: &[String]) -> Vec<String> {
        let mut kept: Vec<(usize, usize, &String)> = self
            .photos
            .iter()
            .enumerate()
            .filter(|(_, h)| !self.remove.contains(h))
            .map(|(i, h)| {
                let place = self
                    .places
                    .iter()
                    .find(|(p, _)| p == h)
                    .map_or(i + 1, |(_, place)| *place);
                (place, i, h)
            })
            .collect();
        kept.sort();
        kept.into_iter()
            .map(|(_, _, h)| h.clone())
            .chain(added.iter().cloned())
            .collect()
    }

    /// Is the box of `kind` ticked?
    pub(super) fn has_kind(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k == kind)
    }

    fn field_error(mut self, field: &str, message: impl Into<String>) -> Self {
        self.error_on = field.to_owned();
        self.field_error = message.into();
        self
    }

    /// The API input of the form, amounts typed in `currency`.
    fn input(&self, currency: Currency) -> Result<ListingInput, Box<Self>> {
        let kinds = self
            .kinds
            .iter()
            .map(|k| enum_of(k))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Box::new(
                    self.clone()
                        .field_error("kinds", "Pick from the kinds shown."),
                )
            })?;
        if kinds.is_empty() {
            return Err(Box::new(
                self.clone().field_error("kinds", "Tick at least one."),
            ));
        }
        let purpose = match self.purpose.as_str() {
            "want" => Purpose::Want,
            _ => Purpose::Offer,
        };
        let price = if self.price.trim().is_empty() {
            None
        } else {
            let amount = minor_units(currency, "price", &self.price)
                .map_err(|e| Box::new(self.clone().field_error("price", format!("{e:#}"))))?;
            let per = enum_of(if self.per.is_empty() {
                "day"
            } else {
                &self.per
            })
            .ok_or_else(|| {
                Box::new(
                    self.clone()
                        .field_error("price", "Per hour, day, week or month."),
                )
            })?;
            Some(PriceJson {
                amount,
                currency: currency.code().to_owned(),
                per,
            })
        };
        let deposit = if self.deposit.trim().is_empty() {
            None
        } else {
            Some(MoneyJson {
                amount: minor_units(currency, "deposit", &self.deposit)
                    .map_err(|e| Box::new(self.clone().field_error("deposit", format!("{e:#}"))))?,
                currency: currency.code().to_owned(),
            })
        };
        Ok(ListingInput {
            purpose: Some(purpose),
            kinds,
            title: self.title.trim().to_owned(),
            description: self.description.clone(),
            category: self.category.trim().to_owned(),
            tags: self
                .tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            price,
            deposit,
            ..ListingInput::default()
        })
    }

    /// The form with a refusal of the node shown beside its field.
    fn refused(self, error: ApiError) -> Self {
        let body = error.body();
        let field = body
            .field
            .clone()
            .or_else(|| body.rule.as_deref().and_then(rule_field).map(str::to_owned));
        match field {
            Some(field) => self.field_error(&field, body.error.clone()),
            None => Self {
                error: Some(body.error.clone()),
                ..self
            },
        }
    }
}

/// The form field a protocol rule is about.
fn rule_field(rule: &str) -> Option<&'static str> {
    Some(match rule {
        r if r.contains("title") => "title",
        r if r.contains("description") => "description",
        r if r.contains("tag") => "tags",
        r if r.contains("kind") => "kinds",
        r if r.contains("price") => "price",
        r if r.contains("deposit") => "deposit",
        r if r.contains("photo") => "photos",
        _ => return None,
    })
}

fn enum_of<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

#[derive(Template)]
#[template(path = "listing_form.html")]
struct FormPage {
    nav: &'static str,
    csrf: String,
    heading: String,
    action: String,
    submit: &'static str,
    currency: String,
    kinds: [&'static str; 5],
    periods: [&'static str; 4],
    form: ListingForm,
    /// The private meshes a new listing may go to instead: (id, name).
    private_meshes: Vec<(String, String)>,
}

impl FormPage {
    fn new(node: &Node, csrf: String, form: ListingForm) -> Self {
        Self {
            nav: "new",
            csrf,
            heading: "New listing".to_owned(),
            action: "/new".to_owned(),
            submit: "Publish",
            currency: node.config().currency.code().to_owned(),
            kinds: KINDS,
            periods: PERIODS,
            form,
            private_meshes: node
                .named_meshes()
                .into_iter()
                .filter(|m| m.private)
                .map(|m| {
                    let id = m.id.to_string();
                    (id.clone(), m.name.unwrap_or(id))
                })
                .collect(),
        }
    }

    fn edit(node: &Node, csrf: String, id: &str, form: ListingForm) -> Self {
        Self {
            nav: "me",
            heading: format!("Edit: {}", form.title),
            action: format!("/l/{id}/edit"),
            submit: "Save",
            // A listing stays where it was published.
            private_meshes: Vec::new(),
            ..Self::new(node, csrf, form)
        }
    }
}

/// `GET /new`.
pub(super) async fn new_form(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
) -> Response {
    let form = ListingForm {
        per: "day".to_owned(),
        ..ListingForm::default()
    };
    page(
        StatusCode::OK,
        &FormPage::new(state.node(), session.csrf, form),
    )
}

/// `POST /new`: publishes, then shows the listing.
pub(super) async fn create(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
    posted: PageForm,
) -> Response {
    let node = state.node();
    let form = ListingForm::from_pairs(&posted.fields);
    let refuse = |form: ListingForm| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage::new(node, session.csrf.clone(), form),
        )
    };
    let mut input = match form.input(node.config().currency) {
        Ok(input) => input,
        Err(form) => return refuse(*form),
    };
    input.photos = match upload(node, posted.photos).await {
        Ok(hashes) => hashes,
        Err(message) => return refuse(form.field_error("photos", message)),
    };
    let placement = if form.place.is_empty() {
        node.default_placement()
    } else {
        let Some(mesh) = swapmesh_protocol::MeshId::parse(&form.place) else {
            return refuse(form.field_error("place", "Pick a place shown."));
        };
        match node.placement(Some(vec![mesh]), None) {
            Ok(placement) => placement,
            Err(e) => return refuse(form.refused(ApiError::from(e))),
        }
    };
    let listing = match input.into_listing() {
        Ok(listing) => listing,
        Err(e) => return refuse(form.refused(e)),
    };
    match node.publish_listing_at(listing, placement).await {
        Ok(verified) => {
            let id = ListingId {
                author: verified.body().author,
                d: match &verified.body().content {
                    swapmesh_protocol::Content::Listing(l) => l.d.clone(),
                    _ => String::new(),
                },
            };
            Redirect::to(&format!("/l/{id}")).into_response()
        }
        Err(e) => refuse(form.refused(ApiError::from(e))),
    }
}

/// Normalises and stores each uploaded photo; their hashes, or what is wrong
/// with the first that is refused.
async fn upload(node: &Node, photos: Vec<Vec<u8>>) -> Result<Vec<String>, String> {
    let mut hashes = Vec::with_capacity(photos.len());
    for (i, bytes) in photos.into_iter().enumerate() {
        match node.add_photo(bytes).await {
            Ok(info) => hashes.push(info.hash.to_string()),
            Err(e) => {
                return Err(format!(
                    "Photo {}: {}",
                    i + 1,
                    ApiError::from(e).body().error
                ));
            }
        }
    }
    Ok(hashes)
}

/// A live listing of ours by the id in a path.
fn own_listing(node: &Node, id: &str) -> Option<(ListingId, ListingJson)> {
    let id: ListingId = id.parse().ok()?;
    if id.author != node.author() {
        return None;
    }
    let record = node.listing(&id).ok()??;
    let l = ListingJson::from_record(&record)?;
    (l.status != ListingStatus::Withdrawn).then_some((id, l))
}

/// The page for an id that names no live listing of ours.
fn not_ours(csrf: &str) -> Response {
    super::pages::not_found(csrf, "No listing of yours has this id.".to_owned())
}

/// `GET /l/{id}/edit`.
pub(super) async fn edit_form(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
) -> Response {
    let node = state.node();
    match own_listing(node, &id) {
        Some((_, l)) => page(
            StatusCode::OK,
            &FormPage::edit(node, session.csrf, &id, ListingForm::of(&l)),
        ),
        None => not_ours(&session.csrf),
    }
}

/// `POST /l/{id}/edit`: a new version with the form's fields (its name,
/// status and photos kept).
pub(super) async fn update(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    posted: PageForm,
) -> Response {
    let node = state.node();
    let Some((listing_id, current)) = own_listing(node, &id) else {
        return not_ours(&session.csrf);
    };
    let mut form = ListingForm::from_pairs(&posted.fields);
    // A stale page cannot name photos the listing no longer has.
    form.photos.retain(|h| current.photos.contains(h));
    let refuse = |form: ListingForm| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &FormPage::edit(node, session.csrf.clone(), &id, form),
        )
    };
    let mut input = match form.input(node.config().currency) {
        Ok(input) => input,
        Err(form) => return refuse(*form),
    };
    let added = match upload(node, posted.photos).await {
        Ok(hashes) => hashes,
        Err(message) => return refuse(form.field_error("photos", message)),
    };
    input.photos = form.photo_order(&added);
    let changed = match input.into_listing() {
        Ok(listing) => listing,
        Err(e) => return refuse(form.refused(e)),
    };
    let result = node
        .change_listing(&listing_id, move |l| {
            let keep = (l.d.clone(), l.status, l.availability.clone());
            *l = changed;
            (l.d, l.status, l.availability) = keep;
        })
        .await;
    match result {
        Ok(_) => Redirect::to(&format!("/l/{listing_id}")).into_response(),
        Err(e) => refuse(form.refused(ApiError::from(e))),
    }
}

/// The pause and withdraw forms: only their CSRF token.
#[derive(Debug, serde::Deserialize)]
pub(super) struct TokenOnly {
    #[allow(dead_code)]
    csrf: String,
}

/// `POST /l/{id}/pause`: pauses an active listing, resumes a paused one.
pub(super) async fn pause(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Response {
    let node = state.node();
    let Some((listing_id, l)) = own_listing(node, &id) else {
        return not_ours(&session.csrf);
    };
    let next = match l.status {
        ListingStatus::Paused => ListingStatus::Active,
        _ => ListingStatus::Paused,
    };
    finish(node.change_listing(&listing_id, |l| l.status = next).await)
}

/// `POST /l/{id}/withdraw`.
pub(super) async fn withdraw(
    State(state): State<crate::api::ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<TokenOnly>,
) -> Response {
    let node = state.node();
    let Some((listing_id, _)) = own_listing(node, &id) else {
        return not_ours(&session.csrf);
    };
    finish(node.withdraw(&listing_id).await)
}

/// Back to `/me`, or the node's refusal.
fn finish<T>(result: Result<T, NodeError>) -> Response {
    match result {
        Ok(_) => Redirect::to("/me").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
