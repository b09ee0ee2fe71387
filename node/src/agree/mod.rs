//! [`Agree`]: agreements between two nodes over `/swapmesh/agree/1` (DESIGN §5).
//!
//! The provider's node sequences each chain: its own events apply at once and
//! reach the other party through the outbox; the other party's events wait as its
//! one *pending* event until the sequencer appends them. Whoever commits an event
//! flushes before anything is acknowledged, so nothing acknowledged is lost.
//!
//! - `local`: our own events (check our copy, sign, hold, commit, queue, wait);
//! - `serve`: the other party's deliveries (apply in order, the sequencer's
//!   arrival rules, commit, flush, then answer);
//! - `arrival`: the sequencer's rules that read its clock and its own state;
//! - `holds`: the calendar windows a commit takes or releases for our items;
//! - `outbox`: a worker per peer delivering in order, with retries;
//! - `mail`: the outbox's requests by mail after `mail_after` of failed
//!   tries, and the letters fetched from our mail hosts;
//! - `pending`: our pending event as the other party: acked, refused, signed again;
//! - `receipts`: the receipt both parties sign when a chain ends;
//! - `timers`: offer expiry, dropped pending proposals, listing status.

mod arrival;
mod error;
mod holds;
mod local;
mod mail;
mod outbox;
mod pending;
mod receipts;
mod serve;
mod timers;

use std::sync::Arc;
use std::time::Duration;

use swapmesh_net::{NetworkHandle, PeerId};
use swapmesh_protocol::agreement::wire::Refusal;
use swapmesh_protocol::agreement::{
    Action, Agreement, AgreementError, EventId, PartyKeys, SignedEvent, VerifiedEvent,
    verify_event, verify_event_with,
};
use swapmesh_protocol::{AgreementId, AuthorKey, SigningKey, Timestamp};
use swapmesh_store::{Store, StoredAgreement};
use tokio::sync::broadcast;

pub use error::AgreeError;
pub use local::{Acted, Proposal};
pub use mail::Delivery;

use crate::address_book::AddressBook;
use crate::blocks::Blocks;
use crate::clock::Clock;
use crate::config::Faults;
use crate::events::NodeEvent;
use crate::mail::Mail;
use crate::metrics::AppMetrics;
use crate::publish::Publisher;
use crate::tasks::Tasks;

use self::outbox::Outbox;

/// Undecided proposals one party may have with us before more are refused.
pub const MAX_UNDECIDED: usize = 16;
/// How long an offer stands unless the proposal says.
pub const DEFAULT_OFFER: u64 = 7 * swapmesh_protocol::time::DAY;

/// The agreements of one node.
#[derive(Clone)]
pub(crate) struct Agree {
    inner: Arc<Parts>,
}

struct Parts {
    key: SigningKey,
    me: AuthorKey,
    store: Store,
    net: NetworkHandle,
    clock: Arc<dyn Clock>,
    publisher: Arc<Publisher>,
    events: broadcast::Sender<NodeEvent>,
    address_book: Arc<AddressBook>,
    tasks: Arc<Tasks>,
    outbox: Outbox,
    /// One writer of agreement state at a time: a local action and a delivery on
    /// one agreement never race to its head.
    commits: tokio::sync::Mutex<()>,
    /// The parties' decompressed keys per agreement, to verify deliveries
    /// without a point decompression per event (bounded: cleared when full).
    party_keys: std::sync::Mutex<std::collections::HashMap<AgreementId, PartyKeys>>,
    /// How long a call waits for the other node before answering 202.
    ack_wait: Duration,
    /// How long after its due date an item not given back is overdue.
    overdue_grace: u64,
    /// The due dates already announced overdue, per agreement.
    told_overdue: std::sync::Mutex<std::collections::HashMap<AgreementId, Timestamp>>,
    metrics: Arc<AppMetrics>,
    faults: Faults,
    /// Authors we blocked: their proposals are refused, ours to them stopped.
    blocks: Arc<Blocks>,
    /// Sealed mail: our hosts and the other parties'.
    mail: Mail,
    /// Seconds of failed direct tries before a request goes by mail.
    mail_after: u64,
    /// One mail check at a time.
    mail_check: tokio::sync::Mutex<()>,
    /// Wakes the mail loop (one of our hosts connected).
    mail_poke: tokio::sync::Notify,
}

/// What [`Agree::new`] needs.
pub(crate) struct AgreeParts {
    pub(crate) key: SigningKey,
    pub(crate) store: Store,
    pub(crate) net: NetworkHandle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) address_book: Arc<AddressBook>,
    pub(crate) tasks: Arc<Tasks>,
    pub(crate) ack_wait: Duration,
    pub(crate) overdue_grace: u64,
    pub(crate) metrics: Arc<AppMetrics>,
    pub(crate) faults: Faults,
    pub(crate) blocks: Arc<Blocks>,
    pub(crate) mail: Mail,
    pub(crate) mail_after: Duration,
}

/// What this node derives of an agreement at its time: never signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The actions this node may take now (see [`Agreement::next_actions`]),
    /// and `note`; none while an event of ours waits for the sequencer.
    pub next: Vec<&'static str>,
    /// An item is overdue (the node's `overdue_grace` after the due date).
    pub overdue: bool,
    /// Offered, and the offer lapsed unanswered.
    pub expired: bool,
}

/// An agreement in a list: its state and what this node derives of it.
#[derive(Debug, Clone)]
pub struct AgreementSummary {
    /// The state derived from the chain.
    pub state: Agreement,
    /// What this node derives of it now.
    pub derived: Derived,
    /// An event of ours waits for the sequencer.
    pub waiting: bool,
    /// This node's key.
    pub me: AuthorKey,
}

/// An agreement as this node has it.
#[derive(Debug, Clone)]
pub struct AgreementView {
    /// The state derived from the chain.
    pub state: Agreement,
    /// What this node derives of it now.
    pub derived: Derived,
    /// Our event waiting for the sequencer, if any, and how sending it goes.
    pub pending: Option<PendingView>,
    /// The chain, in order.
    pub events: Vec<EventSummary>,
    /// Notes beside the chain, oldest first.
    pub notes: Vec<NoteView>,
    /// Why our first proposal was refused or dropped, if it was: the agreement
    /// never started.
    pub refused: Option<Refusal>,
    /// This node's key.
    pub me: AuthorKey,
    /// Messages of this agreement (events, notes) still in our outbox for the
    /// other party.
    pub sending: usize,
    /// The receipt record both parties signed, once this node holds it.
    pub receipt: Option<swapmesh_store::StoredRecord>,
    /// How our messages to the other party go: directly, or left with its
    /// mail host.
    pub delivery: Delivery,
}

impl AgreementView {
    /// Does this node sequence the chain (is it the provider)?
    pub fn is_sequencer(&self) -> bool {
        self.state.terms.provider == self.me
    }

    /// The list entry of this agreement.
    pub fn summary(&self) -> AgreementSummary {
        AgreementSummary {
            state: self.state.clone(),
            derived: self.derived.clone(),
            waiting: self.pending.is_some(),
            me: self.me,
        }
    }
}

/// Our event waiting for the sequencer.
#[derive(Debug, Clone)]
pub struct PendingView {
    /// The event.
    pub event: EventSummary,
    /// When the outbox last tried to deliver to the sequencer's node.
    pub last_attempt: Option<Timestamp>,
    /// When it tries again, if it is backing off.
    pub next_retry: Option<Timestamp>,
}

/// One event of a chain, as read back from its signed bytes.
#[derive(Debug, Clone)]
pub struct EventSummary {
    /// Its id.
    pub id: EventId,
    /// The event before it; `None` on the proposal.
    pub prev: Option<EventId>,
    /// Who signed it.
    pub signer: AuthorKey,
    /// When.
    pub at: Timestamp,
    /// What it does.
    pub action: Action,
    /// The signer's note.
    pub note: String,
    /// The signature.
    pub sig: swapmesh_protocol::Signature,
}

impl EventSummary {
    /// The summary of an event this node stored (verified when it arrived).
    pub fn of(signed: &SignedEvent) -> Option<Self> {
        let body = signed.decode_body_trusted().ok()?;
        Some(Self {
            id: signed.id(),
            prev: body.link.map(|l| l.prev),
            signer: body.signer,
            at: body.at,
            action: body.action,
            note: body.note,
            sig: signed.sig,
        })
    }
}

/// Which agreements a list holds; the default holds them all.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// Only those in this phase.
    pub phase: Option<swapmesh_protocol::agreement::Phase>,
    /// Only overdue ones.
    pub overdue: bool,
    /// Only those where this node is the provider (`Some(true)`) or the receiver.
    pub provider: Option<bool>,
    /// Only those on this listing (either leg's item).
    pub listing: Option<swapmesh_protocol::ListingId>,
    /// Only those whose id starts with these hex digits.
    pub id_prefix: Option<String>,
    /// Only those changed before this (head time, id), exclusive: the cursor.
    pub before: Option<(Timestamp, AgreementId)>,
    /// Most in the page.
    pub limit: usize,
}

impl Default for ListFilter {
    fn default() -> Self {
        Self {
            phase: None,
            overdue: false,
            provider: None,
            listing: None,
            id_prefix: None,
            before: None,
            limit: usize::MAX,
        }
    }
}

/// A note beside the chain.
#[derive(Debug, Clone)]
pub struct NoteView {
    /// Who wrote it.
    pub from: AuthorKey,
    /// When.
    pub at: Timestamp,
    /// What it says.
    pub text: String,
}

impl Agree {
    pub(crate) fn new(parts: AgreeParts) -> Self {
        let me = swapmesh_protocol::signed::author_of(&parts.key);
        Self {
            inner: Arc::new(Parts {
                me,
                key: parts.key,
                store: parts.store,
                net: parts.net,
                clock: parts.clock,
                publisher: parts.publisher,
                events: parts.events,
                address_book: parts.address_book,
                tasks: parts.tasks,
                outbox: Outbox::default(),
                commits: tokio::sync::Mutex::new(()),
                party_keys: Default::default(),
                ack_wait: parts.ack_wait,
                overdue_grace: parts.overdue_grace,
                told_overdue: Default::default(),
                metrics: parts.metrics,
                faults: parts.faults,
                blocks: parts.blocks,
                mail: parts.mail,
                mail_after: parts.mail_after.as_secs(),
                mail_check: tokio::sync::Mutex::new(()),
                mail_poke: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Starts delivering what the outbox holds, the periodic timers and the
    /// mail loop.
    pub(crate) fn start(&self, tick_every: Duration, mail_poll: Duration) {
        self.start_mail(mail_poll);
        match self.inner.store.outbox_peers() {
            Ok(peers) => {
                for peer in peers {
                    self.wake(peer);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the outbox"),
        }
        let agree = self.clone();
        self.inner.tasks.spawn(async move {
            loop {
                if let Err(e) = agree.tick().await {
                    tracing::warn!(error = %e, "agreement timers failed");
                }
                if tick_every.is_zero() {
                    return;
                }
                tokio::time::sleep(tick_every).await;
            }
        });
    }

    /// A peer connected, identified itself or was discovered: its outbox worker,
    /// if it has one waiting, tries again now.
    pub(crate) fn peer_seen(&self, peer: PeerId) {
        if let Some(author) = author_of_peer(&peer) {
            self.inner.outbox.poke(&author);
            self.host_seen(&author);
        }
    }

    /// Wakes every outbox worker now (a test moved the clock).
    pub(crate) fn retry_all(&self) {
        self.inner.outbox.poke_all();
    }

    /// An agreement as stored, with its chain and notes.
    pub(crate) fn get(&self, id: &AgreementId) -> Result<AgreementView, AgreeError> {
        let stored = self
            .inner
            .store
            .agreement(id)?
            .ok_or(AgreeError::UnknownAgreement(*id))?;
        self.view(stored)
    }

    /// A page of agreements, the most recently changed first (head time, then
    /// id), and whether more follow.
    pub(crate) fn list(
        &self,
        filter: &ListFilter,
    ) -> Result<(Vec<AgreementSummary>, bool), AgreeError> {
        let now = self.inner.clock.now();
        let mut all: Vec<AgreementSummary> = self
            .inner
            .store
            .agreements()?
            .into_iter()
            .filter(|s| {
                let state = &s.state;
                filter.phase.is_none_or(|p| state.phase == p)
                    && filter
                        .provider
                        .is_none_or(|p| self.is_sequencer(state) == p)
                    && filter
                        .listing
                        .as_ref()
                        .is_none_or(|l| state.leg_of(l).is_some())
                    && filter
                        .id_prefix
                        .as_ref()
                        .is_none_or(|p| state.id.to_string().starts_with(p.as_str()))
                    && filter.before.is_none_or(|b| (state.head_at, state.id) < b)
            })
            .map(|s| AgreementSummary {
                derived: self.derived(&s, now),
                waiting: s.pending.is_some(),
                state: s.state,
                me: self.inner.me,
            })
            .filter(|s| !filter.overdue || s.derived.overdue)
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse((s.state.head_at, s.state.id)));
        let more = all.len() > filter.limit;
        all.truncate(filter.limit);
        Ok((all, more))
    }

    /// Our pending events and the outbox's entries, for `/metrics`.
    pub(crate) fn gauges(&self) -> Result<crate::metrics::AgreementGauges, AgreeError> {
        let store = &self.inner.store;
        let pending = store
            .agreements()?
            .iter()
            .filter(|s| s.pending.is_some())
            .count();
        let mut outbox = 0;
        for peer in store.outbox_peers()? {
            outbox += store.outbox(&peer)?.len();
        }
        Ok(crate::metrics::AgreementGauges { pending, outbox })
    }

    /// What this node derives of a stored agreement at `now`.
    fn derived(&self, stored: &StoredAgreement, now: Timestamp) -> Derived {
        let state = &stored.state;
        let next = if stored.refused.is_some() {
            // It never started: nothing to do or say.
            Vec::new()
        } else if stored.pending.is_some() {
            vec!["note"]
        } else {
            let mut next = state.next_actions(self.inner.me, now);
            next.push("note");
            next
        };
        Derived {
            next,
            overdue: stored.refused.is_none() && state.overdue(now, self.inner.overdue_grace),
            expired: state.expired(now),
        }
    }

    fn view(&self, stored: StoredAgreement) -> Result<AgreementView, AgreeError> {
        let now = self.inner.clock.now();
        let events = self
            .inner
            .store
            .agreement_events(&stored.state.id)?
            .iter()
            .filter_map(EventSummary::of)
            .collect();
        let other = self.other(&stored.state);
        let entries: Vec<u64> = self
            .inner
            .store
            .outbox(&other)?
            .iter()
            .filter(|(key, _)| key.agreement == stored.state.id)
            .map(|(key, _)| key.seq)
            .collect();
        let attempts = self.inner.outbox.attempts(&other);
        Ok(AgreementView {
            delivery: self.delivery(&stored.state.id, &entries),
            sending: entries.len(),
            receipt: self.receipt_of(&stored.state)?,
            derived: self.derived(&stored, now),
            pending: stored
                .pending
                .as_ref()
                .and_then(EventSummary::of)
                .map(|event| PendingView {
                    event,
                    last_attempt: attempts.last,
                    next_retry: attempts.next,
                }),
            events,
            notes: stored
                .notes
                .iter()
                .map(|n| NoteView {
                    from: n.from,
                    at: n.note.at,
                    text: n.note.text.clone(),
                })
                .collect(),
            refused: stored.refused,
            state: stored.state,
            me: self.inner.me,
        })
    }

    /// Verifies a delivered event of agreement `state` (if we have it) with its
    /// parties' keys, decompressed once per agreement.
    fn verify(
        &self,
        state: Option<&Agreement>,
        signed: SignedEvent,
    ) -> Result<VerifiedEvent, AgreementError> {
        const MAX_CACHED: usize = 4096;
        let Some(state) = state else {
            return verify_event(signed);
        };
        let keys = {
            let mut cache = self.inner.party_keys.lock().expect("party keys lock");
            match cache.get(&state.id) {
                Some(keys) => keys.clone(),
                None => {
                    let Some(keys) = state.party_keys() else {
                        return verify_event(signed);
                    };
                    if cache.len() >= MAX_CACHED {
                        cache.clear();
                    }
                    cache.insert(state.id, keys.clone());
                    keys
                }
            }
        };
        verify_event_with(signed, &keys)
    }

    fn emit(&self, event: NodeEvent) {
        let _ = self.inner.events.send(event);
    }

    /// The other party of an agreement, from our side.
    fn other(&self, state: &Agreement) -> AuthorKey {
        state.terms.other(&self.inner.me)
    }

    fn is_sequencer(&self, state: &Agreement) -> bool {
        state.terms.provider == self.inner.me
    }
}

/// An event that joined a chain in a commit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Joined {
    event: EventId,
    action: &'static str,
    phase: swapmesh_protocol::agreement::Phase,
}

impl Joined {
    /// `event`, which left the agreement in `after`.
    fn of(event: &VerifiedEvent, after: &Agreement) -> Self {
        Self {
            event: event.id(),
            action: event.body().action.name(),
            phase: after.phase,
        }
    }
}

/// The `PeerId` of an author: the same ed25519 key.
pub(crate) fn peer_of(author: &AuthorKey) -> Option<PeerId> {
    let public = swapmesh_net::identity::ed25519::PublicKey::try_from_bytes(&author.0).ok()?;
    Some(PeerId::from_public_key(&public.into()))
}

/// The author of a `PeerId`, if it is an ed25519 one (every swapmesh node's is).
pub(crate) fn author_of_peer(peer: &PeerId) -> Option<AuthorKey> {
    let multihash = peer.as_ref();
    let public = swapmesh_net::identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    Some(AuthorKey(public.try_into_ed25519().ok()?.to_bytes()))
}
