//! The pages: browse, one listing, status; and the assets.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use swapmesh_protocol::listing::{DealKind, ListingStatus, Purpose};
use swapmesh_protocol::{Geohash, ListingId, MeshId};
use swapmesh_store::{Cursor, Query as StoreQuery};

use super::PageSession;
use super::form::CsrfForm;
use super::terms::TermsForm;
use crate::api::ApiState;
use crate::api::json::ListingJson;
use crate::cli::text::{money, name_of, price};

/// Listings on one browse page.
const PAGE_SIZE: usize = 24;

/// A page as HTML with the headers every page carries; a template that fails
/// to render is a 500 with the reason logged.
pub(super) fn page(status: StatusCode, template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::secure(&mut response);
    response
}

/// A listing as a card or a page shows it.
#[derive(Debug, Clone)]
pub(super) struct ListingView {
    pub(super) id: String,
    pub(super) title: String,
    /// `offer rent/share`.
    pub(super) what: String,
    pub(super) price: Option<String>,
    pub(super) status: String,
    pub(super) thumb: Option<String>,
}

impl From<&ListingJson> for ListingView {
    fn from(l: &ListingJson) -> Self {
        let kinds: Vec<String> = l.kinds.iter().map(name_of).collect();
        Self {
            id: l.id.clone(),
            title: l.title.clone(),
            what: format!("{} {}", name_of(&l.purpose), kinds.join("/")),
            price: l.price.as_ref().map(price),
            status: name_of(&l.status).replace('_', " "),
            thumb: l.photos.first().cloned(),
        }
    }
}

/// A mesh in the filter.
pub(super) struct MeshOption {
    pub(super) id: String,
    pub(super) label: String,
}

/// The browse filters as typed (shown back in the form).
#[derive(Debug, Default, Deserialize)]
pub(super) struct BrowseFilters {
    #[serde(default)]
    pub(super) q: String,
    #[serde(default)]
    pub(super) area: String,
    #[serde(default)]
    pub(super) mesh: String,
    #[serde(default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) purpose: String,
    #[serde(default)]
    cursor: String,
}

impl BrowseFilters {
    /// The store query of the filters, or what is wrong with one of them.
    fn query(&self) -> Result<StoreQuery, String> {
        let mut query = StoreQuery {
            limit: PAGE_SIZE,
            ..StoreQuery::default()
        };
        let area = self.area.trim();
        if !area.is_empty() {
            let cell = Geohash::parse_area(area)
                .ok_or_else(|| format!("Area {area:?} is not a geohash of 5 or 6 characters."))?;
            query.cells.push(cell.cell());
        }
        if !self.mesh.is_empty() {
            query.meshes.push(
                MeshId::parse(&self.mesh).ok_or_else(|| format!("No mesh {:?}.", self.mesh))?,
            );
        }
        if !self.kind.is_empty() {
            query.kinds.push(
                serde_json::from_value::<DealKind>(serde_json::Value::String(self.kind.clone()))
                    .map_err(|_| format!("No kind {:?}.", self.kind))?,
            );
        }
        if !self.purpose.is_empty() {
            query.purpose = Some(
                serde_json::from_value::<Purpose>(serde_json::Value::String(self.purpose.clone()))
                    .map_err(|_| format!("Offers or wants, not {:?}.", self.purpose))?,
            );
        }
        query.words = self.q.split_whitespace().map(str::to_owned).collect();
        if !self.cursor.is_empty() {
            query.cursor = Some(
                self.cursor
                    .parse::<Cursor>()
                    .map_err(|_| "That page link is stale: search again.".to_owned())?,
            );
        }
        Ok(query)
    }

    /// The link of the page after `cursor`, with the same filters.
    fn next_link(&self, cursor: &Cursor) -> String {
        let pairs = [
            ("q", self.q.as_str()),
            ("area", self.area.as_str()),
            ("mesh", self.mesh.as_str()),
            ("kind", self.kind.as_str()),
            ("purpose", self.purpose.as_str()),
        ];
        let mut link = String::from("/?");
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            link.push_str(&format!("{k}={}&", crate::client::encode_query(v)));
        }
        link.push_str(&format!("cursor={cursor}"));
        link
    }
}

#[derive(Template)]
#[template(path = "browse.html")]
struct BrowsePage {
    nav: &'static str,
    csrf: String,
    filters: BrowseFilters,
    meshes: Vec<MeshOption>,
    kinds: Vec<&'static str>,
    listings: Vec<ListingView>,
    next: Option<String>,
    error: Option<String>,
}

/// `/`: the listings this node holds, newest first, filtered, a page at a time.
pub(super) async fn browse(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Query(filters): Query<BrowseFilters>,
) -> Response {
    let node = state.node();
    let meshes = node
        .named_meshes()
        .into_iter()
        .map(|m| MeshOption {
            label: m.name.clone().unwrap_or_else(|| m.id.to_string()),
            id: m.id.to_string(),
        })
        .collect();
    let mut view = BrowsePage {
        nav: "browse",
        csrf: session.csrf,
        filters,
        meshes,
        kinds: vec!["swap", "rent", "lease", "share", "give"],
        listings: Vec::new(),
        next: None,
        error: None,
    };
    let result = view
        .filters
        .query()
        .and_then(|q| node.search(&q).map_err(|e| e.to_string()));
    let status = match result {
        Ok(found) => {
            view.listings = found
                .records
                .iter()
                .filter_map(ListingJson::from_record)
                .map(|l| ListingView::from(&l))
                .collect();
            view.next = found.next.map(|c| view.filters.next_link(&c));
            StatusCode::OK
        }
        Err(e) => {
            view.error = Some(e);
            StatusCode::BAD_REQUEST
        }
    };
    page(status, &view)
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage {
    nav: &'static str,
    csrf: String,
    l: ListingView,
    photos: Vec<String>,
    description: String,
    deposit: Option<String>,
    category: String,
    tags: String,
    /// The author's key, shortened.
    author: String,
    /// The author's key (64 hex).
    author_key: String,
    /// A proposal form for each kind of another's active offer.
    propose: Vec<TermsForm>,
    /// The currency amounts are typed in.
    currency: String,
    refusal: Option<ProposeRefusal>,
    /// What the author says of themselves, if we hold their profile.
    profile: Option<swapmesh_protocol::social::Profile>,
    /// The author's trust from where the owner stands, in words.
    trust: String,
    version: u64,
}

#[derive(Template)]
#[template(
    source = r#"{% extends "base.html" %}{% block title %}Not found{% endblock %}{% block content %}<h1>Not found</h1><p>{{ what }}</p><p><a href="/">Browse</a></p>{% endblock %}"#,
    ext = "html"
)]
struct NotFoundPage {
    nav: &'static str,
    csrf: String,
    what: String,
}

/// The 404 page.
pub(super) fn not_found(csrf: &str, what: String) -> Response {
    page(
        StatusCode::NOT_FOUND,
        &NotFoundPage {
            nav: "browse",
            csrf: csrf.to_owned(),
            what,
        },
    )
}

/// `/l/{id}`: one listing, its photos full size; on another's offer, a
/// form to propose for each of its kinds.
pub(super) async fn listing(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
) -> Response {
    listing_page(&state, session.csrf, &id, None)
}

/// The listing page; `refused`: a proposal the node refused, shown in its
/// form with the sentence beside it.
pub(super) fn listing_page(
    state: &ApiState,
    csrf: String,
    id: &str,
    refused: Option<(TermsForm, ProposeRefusal)>,
) -> Response {
    let Ok(listing_id) = id.parse::<ListingId>() else {
        return not_found(&csrf, format!("{id:?} is not a listing id."));
    };
    let node = state.node();
    let json = match node.listing(&listing_id) {
        Ok(Some(record)) => ListingJson::from_record(&record),
        Ok(None) => None,
        Err(e) => return not_found(&csrf, e.to_string()),
    };
    let Some(l) = json else {
        return not_found(&csrf, "No listing with this id is held here.".to_owned());
    };
    let author = format!("{}…", &l.author[..16]);
    let profile = match l.author.parse() {
        Ok(key) => node.profile(key).ok().flatten().map(|(_, p)| p),
        Err(_) => None,
    };
    let theirs = l.author != node.author().to_string();
    let trust = match l.author.parse() {
        Ok(key) => crate::api::trust::trust_words(&crate::api::trust::trust_json(node, &key)),
        Err(_) => String::new(),
    };
    let open = l.status == ListingStatus::Active && l.purpose == Purpose::Offer;
    let (status, refusal) = match refused {
        Some((form, r)) => (r.status, Some((form, r))),
        None => (StatusCode::OK, None),
    };
    let propose = if theirs && open {
        l.kinds
            .iter()
            .map(|k| match &refusal {
                Some((form, _)) if form.kind == name_of(k) => form.clone(),
                _ => TermsForm::for_listing(&l, *k, node.config().clock.now().secs()),
            })
            .collect()
    } else {
        Vec::new()
    };
    let currency = l
        .price
        .as_ref()
        .map(|p| p.currency.clone())
        .or_else(|| l.deposit.as_ref().map(|d| d.currency.clone()))
        .unwrap_or_else(|| node.config().currency.code().to_owned());
    let view = ListingPage {
        nav: "browse",
        csrf,
        photos: l.photos.clone(),
        description: l.description.clone(),
        deposit: l.deposit.as_ref().map(money),
        category: l.category.clone(),
        tags: l.tags.join(", "),
        author,
        author_key: l.author.clone(),
        profile,
        trust,
        version: l.version,
        propose,
        currency,
        refusal: refusal.map(|(_, r)| r),
        l: ListingView::from(&l),
    };
    page(status, &view)
}

/// A proposal refused: the kind whose form it came from, the field it names,
/// and the API's sentence.
pub(super) struct ProposeRefusal {
    pub(super) status: StatusCode,
    pub(super) kind: String,
    pub(super) field: String,
    pub(super) sentence: String,
    pub(super) code: String,
}

impl ListingPage {
    fn refused(&self, kind: &str) -> Option<&ProposeRefusal> {
        self.refusal.as_ref().filter(|r| r.kind == kind)
    }

    fn refused_field(&self, kind: &str) -> &str {
        self.refused(kind).map_or("", |r| r.field.as_str())
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: &'static str,
    csrf: String,
    peers: usize,
    meshes: String,
    area: String,
    version: &'static str,
    sync: String,
    peer_id: String,
}

/// `/status`: peers, meshes, version, catch-up.
pub(super) async fn status(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
) -> Response {
    let node = state.node();
    let peers = node.peers().await.map(|p| p.len()).unwrap_or(0);
    let meshes: Vec<String> = node
        .named_meshes()
        .into_iter()
        .map(|m| m.name.unwrap_or_else(|| m.id.to_string()))
        .collect();
    let sync = node.sync_progress();
    let view = StatusPage {
        nav: "status",
        csrf: session.csrf,
        peers,
        meshes: meshes.join(", "),
        area: node
            .config()
            .area
            .as_ref()
            .map_or_else(|| "none (the LAN mesh)".to_owned(), ToString::to_string),
        version: env!("CARGO_PKG_VERSION"),
        sync: if sync.running == 0 {
            format!("idle; {} sessions done", sync.completed)
        } else {
            format!("{} of {} records", sync.fetched, sync.expected)
        },
        peer_id: node.peer_id().to_string(),
    };
    page(StatusCode::OK, &view)
}

/// The `/status/revoke` form: only its CSRF token.
#[derive(Debug, Deserialize)]
pub(super) struct RevokeForm {
    #[allow(dead_code)]
    csrf: String,
}

/// `POST /status/revoke`: signs every browser out, this one too.
pub(super) async fn revoke(
    State(state): State<ApiState>,
    CsrfForm(_): CsrfForm<RevokeForm>,
) -> Response {
    match state.node().web_sessions().revoke_all().await {
        Ok(_) => Redirect::to("/login").into_response(),
        Err(e) => crate::api::ApiError::from(e).into_response(),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    super::secure(&mut response);
    response
}

/// The stylesheet.
pub(super) async fn css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/app.css"))
}

/// The script.
pub(super) async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
}
