//! The agreement pages: `/agreements`, the inbox; `/a/{id}`, one agreement
//! with its terms, its signed chain as a timeline and exactly the actions its
//! `next` allows, each a form for that action's route. A form's fields become
//! the API's body of that route and go through the same
//! [`perform`](crate::api::agreements::perform), so page, API and CLI take and
//! refuse the same things; a refusal is shown beside the form as the API's
//! sentence, nothing signed.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use swapmesh_protocol::AgreementId;

use super::PageSession;
use super::form::CsrfForm;
use super::pages::{not_found, page};
use super::terms::{self, TermsForm};
use crate::api::agreements::{self as api, ActionBody, ListParams};
use crate::api::json::{
    ActionJson, AgreementJson, AgreementSummaryJson, ConfirmInput, ExtendInput, LegInput, LegJson,
    NoteInput, NoteText, ResolutionJson, ResolveInput, ReviewInput, TermsJson,
};
use crate::api::{ApiError, ApiState};
use crate::cli::text::{money, name_of};

/// Where an agreement stands for us, as the inbox groups it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Mine,
    Theirs,
    Overdue,
    Active,
    Done,
}

impl Group {
    fn of(s: &AgreementSummaryJson) -> Self {
        let has = |a: &str| s.next.iter().any(|n| n == a);
        let ended = matches!(
            s.state.as_str(),
            "completed" | "declined" | "withdrawn" | "cancelled" | "resolved"
        ) || (s.next.is_empty() && !s.waiting);
        if ended {
            Group::Done
        } else if s.overdue {
            Group::Overdue
        } else if s.waiting {
            Group::Theirs
        } else if has("accept") || has("confirm") || has("handover") {
            Group::Mine
        } else if matches!(s.state.as_str(), "offered" | "accepted") {
            Group::Theirs
        } else {
            Group::Active
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Group::Mine => "Waiting for you",
            Group::Theirs => "Waiting for them",
            Group::Overdue => "Overdue",
            Group::Active => "Active",
            Group::Done => "Done",
        }
    }
}

/// One agreement in the inbox.
struct Row {
    id: String,
    title: String,
    what: String,
    state: String,
    due: Option<String>,
    other: String,
    waiting: bool,
}

/// A group of the inbox.
struct Section {
    heading: &'static str,
    slug: &'static str,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "agreements.html")]
struct InboxPage {
    nav: &'static str,
    csrf: String,
    filters: InboxFilters,
    sections: Vec<Section>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /agreements` filters, as `GET /api/v1/agreements` takes them.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub(super) struct InboxFilters {
    state: String,
    role: String,
    listing: String,
    cursor: String,
}

impl InboxFilters {
    fn params(&self) -> ListParams {
        let some = |t: &String| (!t.trim().is_empty()).then(|| t.trim().to_owned());
        ListParams {
            state: some(&self.state),
            role: some(&self.role),
            listing: some(&self.listing),
            id_prefix: None,
            cursor: some(&self.cursor),
            limit: None,
        }
    }

    fn next_link(&self, cursor: &str) -> String {
        let pairs = [
            ("state", self.state.as_str()),
            ("role", self.role.as_str()),
            ("listing", self.listing.as_str()),
            ("cursor", cursor),
        ];
        let query = serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        format!("/agreements?{query}")
    }
}

/// `/agreements`: the inbox, grouped, with the API's filters and pages.
pub(super) async fn inbox(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Query(filters): Query<InboxFilters>,
) -> Response {
    let mut view = InboxPage {
        nav: "agreements",
        csrf: session.csrf,
        filters,
        sections: Vec::new(),
        next: None,
        error: None,
    };
    match api::list(state.node(), &view.filters.params()) {
        Ok(found) => {
            let mut rows: Vec<(Group, Row)> = found
                .agreements
                .iter()
                .map(|s| {
                    (
                        Group::of(s),
                        Row {
                            id: s.id.clone(),
                            title: s.title.clone(),
                            what: format!(
                                "{} · you are the {}",
                                name_of(&s.kind),
                                name_of(&s.role)
                            ),
                            state: s.state.clone(),
                            due: s.due.as_deref().map(terms::when),
                            other: short(&s.other),
                            waiting: s.waiting,
                        },
                    )
                })
                .collect();
            rows.sort_by_key(|(g, _)| *g);
            for (group, row) in rows {
                match view.sections.last_mut() {
                    Some(s) if s.heading == group.heading() => s.rows.push(row),
                    _ => view.sections.push(Section {
                        heading: group.heading(),
                        slug: match group {
                            Group::Mine => "mine",
                            Group::Theirs => "theirs",
                            Group::Overdue => "overdue",
                            Group::Active => "active",
                            Group::Done => "done",
                        },
                        rows: vec![row],
                    }),
                }
            }
            view.next = found.next.as_deref().map(|c| view.filters.next_link(c));
            page(StatusCode::OK, &view)
        }
        Err(e) => {
            view.error = Some(e.body().error.clone());
            page(e.status(), &view)
        }
    }
}

/// A key as the page shows it: its first 12 hex characters.
fn short(key: &str) -> String {
    format!("{}…", key.get(..12).unwrap_or(key))
}

/// One entry of the timeline: an event or a note.
struct Entry {
    who: String,
    at: String,
    /// `Proposed`, `Countered`, …
    what: String,
    /// What a counter changed, a line each.
    changes: Vec<String>,
    /// The terms of a proposal, a line each.
    details: Vec<String>,
    note: String,
    /// An event (signed in the chain), not a note.
    signed: bool,
    id: String,
}

/// Our event waiting for the other node.
struct PendingView {
    what: String,
    since: String,
    last_attempt: Option<String>,
}

/// The receipt as the page shows it.
struct ReceiptView {
    outcome: String,
    on_time: String,
    ended: String,
}

/// The review form (after the receipt).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct ReviewForm {
    rating: String,
    text: String,
}

/// A refusal, beside the form of `action`.
pub(super) struct Refusal {
    action: String,
    field: String,
    sentence: String,
    code: String,
}

#[derive(Template)]
#[template(path = "agreement.html")]
struct AgreementPage {
    nav: &'static str,
    csrf: String,
    a: AgreementJson,
    other: String,
    other_key: String,
    /// The other party's trust from where the owner stands, in words.
    other_trust: String,
    terms: Vec<(&'static str, String)>,
    timeline: Vec<Entry>,
    pending: Option<PendingView>,
    /// The actions of `next`, in the order the API lists them.
    next: Vec<String>,
    counter: TermsForm,
    /// A confirm's deposit field, filled in with the deposit held.
    deposit_held: String,
    /// The currency amounts are typed in here.
    currency: String,
    swap: bool,
    receipt: Option<ReceiptView>,
    review: ReviewForm,
    reviewed: bool,
    refusal: Option<Refusal>,
}

impl AgreementPage {
    fn refused(&self, action: &str) -> Option<&Refusal> {
        self.refusal.as_ref().filter(|r| r.action == action)
    }

    /// A refusal of an action the page no longer offers (a stale page's).
    fn stray_refusal(&self) -> Option<&Refusal> {
        self.refusal.as_ref().filter(|r| {
            !self.next.contains(&r.action) && r.action != "review" && r.action != "pending"
        })
    }

    /// The field a refusal of `action` names ("" if none).
    fn refused_field(&self, action: &str) -> &str {
        self.refused(action).map_or("", |r| r.field.as_str())
    }

    fn field_refused(&self, action: &str, field: &str) -> bool {
        self.refused_field(action) == field
    }

    /// The words on an action's button.
    fn button(&self, action: &str) -> &'static str {
        match action {
            "counter" => "Counter",
            "accept" => "Accept",
            "decline" => "Decline",
            "withdraw" => "Withdraw",
            "handover" => "Hand over",
            "return" => "Give back",
            "confirm" => "Confirm",
            "extend" => "Ask to extend",
            "cancel" => "Cancel the agreement",
            "dispute" => "Dispute",
            "resolve" => "Propose to resolve",
            "note" => "Send note",
            _ => "Go",
        }
    }
}

/// The sentence of an action's event.
fn action_text(a: &ActionJson) -> String {
    match a {
        ActionJson::Propose { .. } => "Proposed".into(),
        ActionJson::Counter { .. } => "Countered".into(),
        ActionJson::Accept { .. } => "Accepted".into(),
        ActionJson::Decline => "Declined".into(),
        ActionJson::Withdraw => "Withdrew".into(),
        ActionJson::Handover { leg } => format!("Handed over{}", leg_words(leg)),
        ActionJson::Return { leg } => format!("Gave back{}", leg_words(leg)),
        ActionJson::Confirm {
            deposit_returned, ..
        } => match deposit_returned {
            Some(d) => format!("Confirmed, {} of the deposit returned", money(d)),
            None => "Confirmed".into(),
        },
        ActionJson::Extend { due } => format!("Asked to extend to {}", terms::when(due)),
        ActionJson::Cancel => "Cancelled".into(),
        ActionJson::Dispute => "Disputed".into(),
        ActionJson::Resolve { outcome } => format!("Proposed to resolve: {}", name_of(outcome)),
    }
}

/// Which item, when it is the one a swap gives in exchange.
fn leg_words(leg: &LegJson) -> &'static str {
    match leg {
        LegJson::Provider => "",
        LegJson::Receiver => " (the item given in exchange)",
    }
}

/// The page of `a` as `me` sees it.
fn view(
    state: &ApiState,
    csrf: String,
    a: AgreementJson,
    refusal: Option<Refusal>,
    counter: Option<TermsForm>,
    review: Option<ReviewForm>,
) -> AgreementPage {
    let node = state.node();
    let me = node.author().to_string();
    // Every event and note is signed by one of the two parties: the other's
    // name is looked up once.
    let other = match a
        .summary
        .other
        .parse()
        .ok()
        .and_then(|k| node.profile(k).ok().flatten())
    {
        Some((_, p)) => p.name,
        None => short(&a.summary.other),
    };
    let who = |key: &str| {
        if key == me {
            "You".to_owned()
        } else {
            other.clone()
        }
    };
    let mut previous: Option<&TermsJson> = None;
    let mut timeline: Vec<(String, Entry)> = Vec::new();
    for e in &a.events {
        let (changes, details) = match &e.action {
            ActionJson::Propose { terms: t } => {
                previous = Some(t);
                (
                    Vec::new(),
                    terms::lines(t)
                        .into_iter()
                        .map(|(l, v)| format!("{l}: {v}"))
                        .collect(),
                )
            }
            ActionJson::Counter { terms: t } => {
                let changes = previous.map(|p| terms::changes(p, t)).unwrap_or_default();
                previous = Some(t);
                (changes, Vec::new())
            }
            _ => (Vec::new(), Vec::new()),
        };
        timeline.push((
            e.at.clone(),
            Entry {
                who: who(&e.signer),
                at: terms::when(&e.at),
                what: action_text(&e.action),
                changes,
                details,
                note: e.note.clone(),
                signed: true,
                id: e.id.clone(),
            },
        ));
    }
    for n in &a.notes {
        timeline.push((
            n.at.clone(),
            Entry {
                who: who(&n.from),
                at: terms::when(&n.at),
                what: "Note".into(),
                changes: Vec::new(),
                details: Vec::new(),
                note: n.text.clone(),
                signed: false,
                id: String::new(),
            },
        ));
    }
    // Notes beside the events of their time (a stable sort keeps the chain's order).
    timeline.sort_by(|x, y| x.0.cmp(&y.0));
    let pending = a.pending.as_ref().map(|p| PendingView {
        what: action_text(&p.event.action),
        since: terms::when(&p.since),
        last_attempt: p.last_attempt.as_deref().map(terms::when),
    });
    let receipt = a.receipt.as_ref().map(|r| ReceiptView {
        outcome: name_of(&r.statement.outcome),
        on_time: match r.statement.on_time {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => "no return".into(),
        },
        ended: terms::when(&r.statement.ended_at),
    });
    let (mut deposit_held, currency) = deposit_and_currency(&a.terms);
    if !confirms_a_return(&a, &me) {
        deposit_held.clear();
    }
    let ours = own_review(state, &a.summary.id);
    let reviewed = ours.is_some();
    let review = review.or(ours).unwrap_or_default();
    AgreementPage {
        nav: "agreements",
        csrf,
        other: other.clone(),
        other_key: a.summary.other.clone(),
        other_trust: a
            .summary
            .other
            .parse()
            .map(|key| {
                crate::api::trust::trust_words(&crate::api::trust::trust_json(state.node(), &key))
            })
            .unwrap_or_default(),
        terms: terms::lines(&a.terms),
        timeline: timeline.into_iter().map(|(_, e)| e).collect(),
        pending,
        next: a.summary.next.clone(),
        counter: counter.unwrap_or_else(|| TermsForm::of_terms(&a.terms)),
        deposit_held,
        currency,
        swap: matches!(a.terms.deal, crate::api::json::DealJson::Swap { .. }),
        receipt,
        review,
        reviewed,
        refusal,
        a,
    }
}

/// Whether the other party's open act, the one a confirm of ours would
/// confirm, is a return (so the confirm says what deposit came back).
fn confirms_a_return(a: &AgreementJson, me: &str) -> bool {
    let mut open: Option<&ActionJson> = None;
    for e in &a.events {
        let theirs = e.signer != me;
        match &e.action {
            ActionJson::Handover { .. }
            | ActionJson::Return { .. }
            | ActionJson::Extend { .. }
            | ActionJson::Resolve { .. }
                if theirs =>
            {
                open = Some(&e.action)
            }
            ActionJson::Confirm { .. } | ActionJson::Decline if !theirs => open = None,
            _ => {}
        }
    }
    matches!(open, Some(ActionJson::Return { .. }))
}

/// The deposit the terms hold (as typed) and the currency amounts are typed in.
fn deposit_and_currency(t: &TermsJson) -> (String, String) {
    use crate::api::json::DealJson;
    let typed = terms::typed;
    match &t.deal {
        DealJson::Share { deposit, .. } => (
            deposit.as_ref().map(typed).unwrap_or_default(),
            deposit
                .as_ref()
                .map(|d| d.currency.clone())
                .unwrap_or_default(),
        ),
        DealJson::Rent { deposit, price, .. } => (
            deposit.as_ref().map(typed).unwrap_or_default(),
            price.currency.clone(),
        ),
        DealJson::Lease { price, .. } => (String::new(), price.currency.clone()),
        _ => (String::new(), String::new()),
    }
}

/// Our review of agreement `id`, as a form filled in.
fn own_review(state: &ApiState, id: &str) -> Option<ReviewForm> {
    let node = state.node();
    let me = node.author();
    let (records, _) = node
        .social_of(&me, &[swapmesh_protocol::RecordKind::Review], None, 500)
        .ok()?;
    records
        .iter()
        .filter_map(|r| crate::api::json::ReviewJson::of(r.id, &r.body))
        .find(|r| r.agreement == id && r.author == me.to_string())
        .map(|r| ReviewForm {
            rating: r.rating.to_string(),
            text: r.text,
        })
}

fn agreement_of(state: &ApiState, id: &str) -> Result<AgreementJson, ApiError> {
    let id = crate::api::extract::agreement_id(id)?;
    Ok(AgreementJson::of(&state.node().agreement(&id)?))
}

/// `/a/{id}`: one agreement.
pub(super) async fn agreement(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
) -> Response {
    match agreement_of(&state, &id) {
        Ok(a) => page(
            StatusCode::OK,
            &view(&state, session.csrf, a, None, None, None),
        ),
        Err(e) => not_found(&session.csrf, e.body().error.clone()),
    }
}

/// What a form asks for: an action in the chain, or a note beside it.
enum Step {
    Act(ActionBody),
    Note(NoteText),
}

/// The fields of every action form (each uses those of its route).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ActionForm {
    note: String,
    text: String,
    leg: String,
    deposit_returned: String,
    due: String,
    outcome: String,
    #[serde(flatten)]
    terms: TermsForm,
}

impl ActionForm {
    /// The API body of `action` from this form, for agreement `a`.
    fn body(
        &self,
        action: &str,
        a: &AgreementJson,
        state_currency: swapmesh_protocol::Currency,
    ) -> Result<Step, ApiError> {
        let note = self.note.trim().to_owned();
        let leg = match self.leg.as_str() {
            "provider" => Some(LegJson::Provider),
            "receiver" => Some(LegJson::Receiver),
            _ => None,
        };
        let currency = || {
            let (_, code) = deposit_and_currency(&a.terms);
            swapmesh_protocol::Currency::from_code(&code)
                .map_err(|_| field_error("deposit_returned", "This agreement holds no money."))
        };
        if action == "note" {
            return Ok(Step::Note(NoteText {
                text: self.text.clone(),
            }));
        }
        Ok(Step::Act(match action {
            "counter" => {
                let c = currency().unwrap_or(state_currency);
                let input = self
                    .terms
                    .counter_input(&a.terms, c)
                    .map_err(|e| field_error(e.field, &e.message))?;
                ActionBody::Counter(Box::new(input))
            }
            "accept" => ActionBody::Accept(NoteInput { note }),
            "decline" => ActionBody::Decline(NoteInput { note }),
            "withdraw" => ActionBody::Withdraw(NoteInput { note }),
            "cancel" => ActionBody::Cancel(NoteInput { note }),
            "dispute" => ActionBody::Dispute(NoteInput { note }),
            "handover" => ActionBody::Handover(LegInput { leg, note }),
            "return" => ActionBody::Return(LegInput { leg, note }),
            "confirm" => {
                let deposit_returned = if self.deposit_returned.trim().is_empty() {
                    None
                } else {
                    let c = currency()?;
                    let amount = c
                        .parse_amount(self.deposit_returned.trim())
                        .map_err(|e| field_error("deposit_returned", &e.to_string()))?;
                    Some(crate::api::json::MoneyJson {
                        amount,
                        currency: c.code().to_owned(),
                    })
                };
                ActionBody::Confirm(ConfirmInput {
                    of: None,
                    deposit_returned,
                    note,
                })
            }
            "extend" => ActionBody::Extend(ExtendInput {
                due: match self.due.trim() {
                    t if t.len() == 16 => format!("{t}:00Z"),
                    t if t.len() == 10 => format!("{t}T00:00:00Z"),
                    t => t.to_owned(),
                },
                note,
            }),
            "resolve" => ActionBody::Resolve(ResolveInput {
                outcome: match self.outcome.as_str() {
                    "returned" => ResolutionJson::Returned,
                    "kept" => ResolutionJson::Kept,
                    "other" => ResolutionJson::Other,
                    _ => return Err(field_error("outcome", "Pick how it ended.")),
                },
                note,
            }),
            other => return Err(ApiError::unknown_action(other, api::ACTIONS)),
        }))
    }
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::field(crate::api::ErrorCode::InvalidField, field, message)
}

/// `POST /a/{id}/{action}`: the action, then back to the agreement; a
/// refusal beside its form.
pub(super) async fn act(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Response {
    let a = match agreement_of(&state, &id) {
        Ok(a) => a,
        Err(e) => return not_found(&session.csrf, e.body().error.clone()),
    };
    let result = match form.body(&action, &a, state.node().config().currency) {
        Ok(body) => {
            let agreement_id: AgreementId = match a.summary.id.parse() {
                Ok(id) => id,
                Err(_) => return not_found(&session.csrf, "No such agreement.".into()),
            };
            match body {
                Step::Act(body) => api::perform(state.node(), agreement_id, body)
                    .await
                    .map(drop),
                Step::Note(text) => api::add_note(state.node(), agreement_id, text)
                    .await
                    .map(drop),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/a/{}", a.summary.id)).into_response(),
        Err(e) => refuse(&state, session, &a.summary.id, &action, e, Some(form)),
    }
}

/// The agreement page again, the refusal beside `action`'s form.
fn refuse(
    state: &ApiState,
    session: PageSession,
    id: &str,
    action: &str,
    e: ApiError,
    form: Option<ActionForm>,
) -> Response {
    let status = e.status();
    let body = e.body();
    let refusal = Refusal {
        action: action.to_owned(),
        field: body.field.clone().unwrap_or_default(),
        sentence: sentence(&body.error),
        code: body.code.as_str().to_owned(),
    };
    let a = match agreement_of(state, id) {
        Ok(a) => a,
        Err(e) => return not_found(&session.csrf, e.body().error.clone()),
    };
    let counter = form.filter(|_| action == "counter").map(|f| f.terms);
    page(
        status,
        &view(state, session.csrf, a, Some(refusal), counter, None),
    )
}

/// The API's message as a sentence: capitalised, with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut s: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// `POST /a/{id}/pending/stop`: stops sending our waiting event.
pub(super) async fn stop_pending(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<super::own::TokenOnly>,
) -> Response {
    let agreement_id = match crate::api::extract::agreement_id(&id) {
        Ok(id) => id,
        Err(e) => return not_found(&session.csrf, e.body().error.clone()),
    };
    match state.node().cancel_pending(&agreement_id).await {
        Ok(_) => Redirect::to(&format!("/a/{agreement_id}")).into_response(),
        Err(e) => refuse(&state, session, &id, "pending", e.into(), None),
    }
}

/// `POST /a/{id}/review`: publishes (or replaces) our review of the other
/// party, through the same call as `POST /api/v1/reviews`.
pub(super) async fn review(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<ReviewForm>,
) -> Response {
    let rating = match form.rating.trim().parse::<u8>() {
        Ok(r) => r,
        Err(_) => {
            let e = field_error("rating", "Pick a rating from 1 to 5.");
            return refuse_review(&state, session, &id, e, form);
        }
    };
    let input = ReviewInput {
        agreement: id.clone(),
        rating,
        text: form.text.trim().to_owned(),
    };
    match crate::api::reviews::publish(state.node(), input).await {
        Ok(_) => Redirect::to(&format!("/a/{id}")).into_response(),
        Err(e) => refuse_review(&state, session, &id, e, form),
    }
}

fn refuse_review(
    state: &ApiState,
    session: PageSession,
    id: &str,
    e: ApiError,
    form: ReviewForm,
) -> Response {
    let status = e.status();
    let body = e.body();
    let refusal = Refusal {
        action: "review".into(),
        field: body.field.clone().unwrap_or_default(),
        sentence: sentence(&body.error),
        code: body.code.as_str().to_owned(),
    };
    match agreement_of(state, id) {
        Ok(a) => page(
            status,
            &view(state, session.csrf, a, Some(refusal), None, Some(form)),
        ),
        Err(e) => not_found(&session.csrf, e.body().error.clone()),
    }
}

/// `POST /l/{id}/propose`: proposes the form's terms on another's listing,
/// through the same call as `POST /api/v1/agreements`; then the agreement's
/// page, or the listing again with the refusal beside the form.
pub(super) async fn propose(
    State(state): State<ApiState>,
    Extension(session): Extension<PageSession>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TermsForm>,
) -> Response {
    let node = state.node();
    let currency = id
        .parse()
        .ok()
        .and_then(|l| node.listing(&l).ok().flatten())
        .and_then(|r| crate::api::json::ListingJson::from_record(&r))
        .and_then(|l| {
            l.price
                .map(|p| p.currency)
                .or(l.deposit.map(|d| d.currency))
        })
        .and_then(|code| swapmesh_protocol::Currency::from_code(&code).ok())
        .unwrap_or(node.config().currency);
    let result = match form.propose_input(&id, currency) {
        Ok(input) => api::propose_with(node, input).await,
        Err(e) => Err(field_error(e.field, &e.message)),
    };
    match result {
        Ok(acted) => {
            let view = match &acted {
                crate::Acted::InChain { view, .. } | crate::Acted::Pending { view, .. } => view,
            };
            Redirect::to(&format!("/a/{}", view.state.id)).into_response()
        }
        Err(e) => {
            let body = e.body();
            let refusal = super::pages::ProposeRefusal {
                status: e.status(),
                kind: form.kind.clone(),
                field: body.field.clone().unwrap_or_default(),
                sentence: sentence(&body.error),
                code: body.code.as_str().to_owned(),
            };
            super::pages::listing_page(&state, session.csrf, &id, Some((form, refusal)))
        }
    }
}
