//! Agreements (schema 3, DESIGN §5): each agreement's cached state and pending
//! event, its event chain, the items' calendars, and [`Store::commit_agreement`],
//! which writes them together with the outbox in one transaction.
//!
//! The store keeps the rules a transaction must decide — an event already in the
//! chain is acknowledged before any head check, a first event must extend the
//! stored head, holds never overlap — and trusts the caller for the chain rules:
//! the state it commits is what [`apply`] made of verified events.
//!
//! [`apply`]: swapmesh_protocol::agreement::apply

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::TransactionalTree;
use swapmesh_protocol::agreement::wire::{Note, Refusal};
use swapmesh_protocol::agreement::{Agreement, EventId, Link, SignedEvent, Span, VerifiedEvent};
use swapmesh_protocol::encoding::{MAX_DECODE, decode_canonical, encode};
use swapmesh_protocol::{AgreementId, AuthorKey, ListingId};

use crate::calendar::{take_holds, write_calendars};
use crate::error::{Result, StoreError};
use crate::keys::{EVENT_KEY_LEN, calendar_key, event_index, event_key};
use crate::outbox::{OutboxKey, outbox_prefix};
use crate::store::{Store, TxResult, abort};

/// Largest stored agreement or calendar value, the ceiling of any decode. An
/// agreement holds at most two listing copies (32 KiB each), one pending event
/// (96 KiB) and 32 bytes per event of its chain: room for some 27,000 events; a
/// calendar has room for some 20,000 holds. A commit that would write more is
/// refused ([`StoreError::BadCommit`]) rather than stored unreadable.
pub(crate) const MAX_VALUE: usize = MAX_DECODE;

/// An agreement as stored: the value of the `agreements` tree.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredAgreement {
    /// The state derived from the chain; `state.chain` lists the ids of the stored
    /// events in order, the last being the head.
    pub state: Agreement,
    /// The one event of ours waiting for the other party, the sequencer, to
    /// append it (the API's 202).
    pub pending: Option<SignedEvent>,
    /// Notes beside the chain, both parties', oldest first (the last
    /// [`MAX_NOTES`]).
    pub notes: Vec<StoredNote>,
    /// Why our first proposal was refused or dropped: then the agreement never
    /// started, and `state` is only what we proposed.
    pub refused: Option<Refusal>,
}

/// Notes kept per agreement; older ones make room.
pub const MAX_NOTES: usize = 64;

/// A note beside the chain, as kept: who sent it, and the signed note.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct StoredNote {
    /// Who wrote it.
    pub from: AuthorKey,
    /// The note (with its signature).
    pub note: Note,
}

/// [`StoredAgreement`] borrowed, for writing: the same fields in the same order,
/// so the same bytes.
#[derive(Serialize)]
struct StoredRef<'a> {
    state: &'a Agreement,
    pending: Option<&'a SignedEvent>,
    notes: &'a [StoredNote],
    refused: Option<Refusal>,
}

/// What a commit does with the stored pending event.
#[derive(Clone, Copy, Debug)]
pub enum Pending<'a> {
    /// Leaves it as it is.
    Keep,
    /// Our event now waits for the sequencer (replacing any before it).
    Set(&'a SignedEvent),
    /// Nothing of ours waits any more: the sequencer appended or refused it.
    Clear,
}

/// One change to an agreement, written by [`Store::commit_agreement`] whole or
/// not at all. Start from [`AgreementCommit::new`] and set what changes.
#[derive(Clone, Copy, Debug)]
pub struct AgreementCommit<'a> {
    /// The state after the events (the caller applied them with
    /// [`apply`](swapmesh_protocol::agreement::apply)).
    pub state: &'a Agreement,
    /// The events appended, in chain order: the end of `state.chain`. Empty for a
    /// change of state alone (pending set or cleared, holds released at offer
    /// expiry).
    pub events: &'a [VerifiedEvent],
    /// What happens to our pending event.
    pub pending: Pending<'a>,
    /// Per item, the window this agreement holds on its calendar from now on;
    /// `None` releases the item.
    pub holds: &'a [(ListingId, Option<Span>)],
    /// Payloads queued for peers, under `state.id`.
    pub outbox_add: &'a [(AuthorKey, Vec<u8>)],
    /// Outbox entries whose answer this commit records: removed.
    pub outbox_done: &'a [OutboxKey],
    /// A note to keep (once; the oldest beyond [`MAX_NOTES`] goes).
    pub note: Option<&'a StoredNote>,
    /// Marks our first proposal refused or dropped (never cleared).
    pub refused: Option<Refusal>,
}

impl<'a> AgreementCommit<'a> {
    /// A commit of `state` alone: no events, the pending event kept, no holds and
    /// no outbox changes.
    pub fn new(state: &'a Agreement) -> Self {
        Self {
            state,
            events: &[],
            pending: Pending::Keep,
            holds: &[],
            outbox_add: &[],
            outbox_done: &[],
            note: None,
            refused: None,
        }
    }
}

/// What [`Store::commit_agreement`] did.
///
/// Not `#[non_exhaustive]`, like [`InsertOutcome`](crate::InsertOutcome): a new
/// outcome must fail to compile wherever it is not handled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CommitOutcome {
    /// Everything was written.
    Committed,
    /// The first event is already in the stored chain: acknowledge it again.
    /// Nothing was written.
    AlreadyInChain,
    /// The first event does not extend the stored head (with no events: the
    /// state is not the stored one): refuse it as stale. Nothing was written.
    Stale {
        /// The stored head; `None` if the agreement is not stored.
        head: Option<EventId>,
    },
    /// A hold would overlap another agreement's window on its item: refuse it with
    /// that window. Nothing was written.
    Overlap {
        /// The window held by the other agreement.
        window: Span,
        /// The agreement that holds it.
        agreement: AgreementId,
    },
}

impl Store {
    /// Writes one change to an agreement in one transaction over `agreements`,
    /// `agreement_events`, `calendars` and `outbox`: everything or nothing. Not
    /// durable on return (see [`Store::commit_agreement_durable`]).
    ///
    /// In this order:
    /// 1. the first event already in the stored chain: [`CommitOutcome::AlreadyInChain`],
    ///    before any head check;
    /// 2. the first event must extend the stored head (a proposal, with no link:
    ///    nothing stored yet); with no events the stored head must be
    ///    `state.head()`; otherwise [`CommitOutcome::Stale`];
    /// 3. each `Some` hold is taken on its item's calendar, replacing this
    ///    agreement's window there; one that overlaps another agreement's is
    ///    [`CommitOutcome::Overlap`]; `None` releases;
    /// 4. the value (state and pending event), the events at their chain
    ///    positions, the calendars and the outbox are written.
    ///
    /// `Err` for I/O, corruption, and [`StoreError::BadCommit`] for a commit that
    /// contradicts itself (events that are not the end of `state.chain`, a state
    /// that does not continue the stored chain) or a value over the size limit.
    pub fn commit_agreement(&self, commit: &AgreementCommit<'_>) -> Result<CommitOutcome> {
        let prepared = Prepared::new(commit)?;
        let open = self.o()?;
        let t = &open.trees;
        let trees = (&t.agreements, &t.agreement_events, &t.calendars, &t.outbox);
        Ok(
            trees.transaction(|(agreements, events, calendars, outbox)| {
                let tx = AgreementTx {
                    agreements,
                    events,
                    calendars,
                    outbox,
                };
                commit_in_tx(&tx, &prepared)
            })?,
        )
    }

    /// [`Store::commit_agreement`], then [`Store::flush`]: durable when it returns,
    /// whatever the outcome (an [`CommitOutcome::AlreadyInChain`] acknowledges an
    /// event that an earlier, unflushed commit may have written).
    pub async fn commit_agreement_durable(
        &self,
        commit: &AgreementCommit<'_>,
    ) -> Result<CommitOutcome> {
        let outcome = self.commit_agreement(commit)?;
        self.flush().await?;
        Ok(outcome)
    }

    /// The stored agreement with this id.
    pub fn agreement(&self, id: &AgreementId) -> Result<Option<StoredAgreement>> {
        self.o()?
            .trees
            .agreements
            .get(id.0)?
            .map(|v| decode_agreement(id, &v))
            .transpose()
    }

    /// The stored events of an agreement, in chain order (empty if it is not
    /// stored). They were verified before they were stored.
    pub fn agreement_events(&self, id: &AgreementId) -> Result<Vec<SignedEvent>> {
        let mut out = Vec::new();
        for kv in self.o()?.trees.agreement_events.scan_prefix(id.0) {
            let (k, v) = kv?;
            let index = u32::try_from(out.len()).ok();
            if index.is_none() || event_index(id, &k) != index {
                return Err(StoreError::corrupt(format!(
                    "agreement {id}: event key {} where event {} belongs",
                    hex::encode(&k),
                    out.len()
                )));
            }
            out.push(decode_event(id, out.len(), &v)?);
        }
        Ok(out)
    }

    /// Every stored agreement, by id.
    pub fn agreements(&self) -> Result<Vec<StoredAgreement>> {
        self.o()?
            .trees
            .agreements
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let id = <[u8; 32]>::try_from(k.as_ref())
                    .map(AgreementId)
                    .map_err(|_| StoreError::corrupt("agreement key is not 32 bytes"))?;
                decode_agreement(&id, &v)
            })
            .collect()
    }
}

/// Decodes an `agreements` value: canonical, with a chain (its head) and the id
/// of its key.
pub(crate) fn decode_agreement(id: &AgreementId, bytes: &[u8]) -> Result<StoredAgreement> {
    let stored: StoredAgreement = decode_canonical(bytes, MAX_VALUE)
        .map_err(|e| StoreError::corrupt(format!("agreement {id}: {e}")))?;
    if stored.state.chain.is_empty() {
        return Err(StoreError::corrupt(format!("agreement {id}: empty chain")));
    }
    if stored.state.id != *id {
        return Err(StoreError::corrupt(format!(
            "agreement {id}: stored under another id ({})",
            stored.state.id
        )));
    }
    Ok(stored)
}

/// Decodes an `agreement_events` value.
pub(crate) fn decode_event(id: &AgreementId, index: usize, bytes: &[u8]) -> Result<SignedEvent> {
    SignedEvent::decode(bytes)
        .map_err(|e| StoreError::corrupt(format!("event {index} of agreement {id}: {e}")))
}

/// A commit checked and encoded outside the transaction, which may run more than
/// once.
struct Prepared<'a> {
    state: &'a Agreement,
    pending: Pending<'a>,
    note: Option<&'a StoredNote>,
    refused: Option<Refusal>,
    /// The first event's id and link.
    first: Option<(EventId, Option<Link>)>,
    /// Where the events start in `state.chain`.
    start: usize,
    events: Vec<([u8; EVENT_KEY_LEN], Vec<u8>)>,
    holds: Vec<(Vec<u8>, Option<Span>)>,
    outbox_add: Vec<([u8; 64], &'a [u8])>,
    outbox_done: Vec<[u8; OutboxKey::LEN]>,
}

impl<'a> Prepared<'a> {
    fn new(c: &AgreementCommit<'a>) -> Result<Self> {
        let bad = |what: String| Err(StoreError::BadCommit(what));
        let (state, id) = (c.state, c.state.id);
        let chain = &state.chain;
        if chain.first().map(|e| e.as_agreement()) != Some(id) {
            return bad(format!("agreement {id}: its chain does not start with it"));
        }
        let Some(start) = chain.len().checked_sub(c.events.len()) else {
            return bad(format!("agreement {id}: more events than its chain"));
        };
        let mut events = Vec::with_capacity(c.events.len());
        for (i, e) in c.events.iter().enumerate() {
            if e.agreement() != id || chain[start + i] != e.id() {
                return bad(format!(
                    "event {} is not at {} of agreement {id}",
                    e.id(),
                    start + i
                ));
            }
            let Ok(index) = u32::try_from(start + i) else {
                return bad(format!("agreement {id}: chain longer than 2^32"));
            };
            events.push((event_key(&id, index), e.signed().encode()));
        }
        let first = c.events.first().map(|e| (e.id(), e.body().link));
        if matches!(first, Some((_, None))) && start != 0 {
            return bad(format!("agreement {id}: a proposal after its start"));
        }
        Ok(Self {
            state,
            pending: c.pending,
            note: c.note,
            refused: c.refused,
            first,
            start,
            events,
            holds: c
                .holds
                .iter()
                .map(|(item, span)| (calendar_key(item), *span))
                .collect(),
            outbox_add: c
                .outbox_add
                .iter()
                .map(|(peer, payload)| (outbox_prefix(peer, &id), payload.as_slice()))
                .collect(),
            outbox_done: c.outbox_done.iter().map(OutboxKey::to_bytes).collect(),
        })
    }
}

/// The agreement trees inside one transaction.
struct AgreementTx<'t> {
    agreements: &'t TransactionalTree,
    events: &'t TransactionalTree,
    calendars: &'t TransactionalTree,
    outbox: &'t TransactionalTree,
}

fn commit_in_tx(tx: &AgreementTx<'_>, p: &Prepared<'_>) -> TxResult<CommitOutcome> {
    let id = p.state.id;
    let stored = match tx.agreements.get(id.0)? {
        None => None,
        Some(bytes) => match decode_agreement(&id, &bytes) {
            Ok(s) => Some(s),
            Err(e) => return abort(e),
        },
    };
    let head = stored.as_ref().map(|s| s.state.head());
    // Every early return below comes before the first write, so it leaves the
    // trees as they were.
    match (p.first, &stored) {
        (Some((first, _)), Some(s)) if s.state.chain.contains(&first) => {
            return Ok(CommitOutcome::AlreadyInChain);
        }
        (Some((_, link)), _) => {
            let extends = match (link, &stored) {
                (None, None) => true,
                (Some(link), Some(s)) => link.prev == s.state.head(),
                _ => false,
            };
            if !extends {
                return Ok(CommitOutcome::Stale { head });
            }
            if let Some(s) = &stored
                && s.state.chain[..] != p.state.chain[..p.start]
            {
                return abort(StoreError::BadCommit(format!(
                    "agreement {id}: the state's chain does not continue the stored one"
                )));
            }
        }
        (None, _) if head != Some(p.state.head()) => return Ok(CommitOutcome::Stale { head }),
        (None, _) => {}
    }

    let calendars = match take_holds(tx.calendars, id, &p.holds)? {
        Ok(calendars) => calendars,
        Err((window, agreement)) => return Ok(CommitOutcome::Overlap { window, agreement }),
    };

    let pending = match p.pending {
        Pending::Keep => stored.as_ref().and_then(|s| s.pending.as_ref()),
        Pending::Set(event) => Some(event),
        Pending::Clear => None,
    };
    let mut notes: Vec<StoredNote> = stored.as_ref().map(|s| s.notes.clone()).unwrap_or_default();
    if let Some(note) = p.note
        && !notes.contains(note)
    {
        notes.push(note.clone());
        let extra = notes.len().saturating_sub(MAX_NOTES);
        notes.drain(..extra);
    }
    let refused = p.refused.or(stored.as_ref().and_then(|s| s.refused));
    let value = encode(&StoredRef {
        state: p.state,
        pending,
        notes: &notes,
        refused,
    });
    if value.len() > MAX_VALUE {
        return abort(StoreError::BadCommit(format!(
            "agreement {id}: {} bytes, over the {MAX_VALUE} a value may have",
            value.len()
        )));
    }
    tx.agreements.insert(&id.0[..], value)?;
    for (key, bytes) in &p.events {
        tx.events.insert(&key[..], &bytes[..])?;
    }
    write_calendars(tx.calendars, &calendars)?;
    for (prefix, payload) in &p.outbox_add {
        let seq = tx.outbox.generate_id()?;
        let mut key = [0u8; OutboxKey::LEN];
        key[..64].copy_from_slice(prefix);
        key[64..].copy_from_slice(&seq.to_be_bytes());
        tx.outbox.insert(&key[..], *payload)?;
    }
    for key in &p.outbox_done {
        tx.outbox.remove(&key[..])?;
    }
    Ok(CommitOutcome::Committed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swapmesh_protocol::Timestamp;
    use swapmesh_protocol::fixtures::chain::{Chain, LISTED};
    use swapmesh_protocol::listing::DealKind;

    #[test]
    fn the_borrowed_value_encodes_as_the_stored_one() {
        let chain = Chain::accepted(DealKind::Rent, Timestamp(LISTED.0 + 60));
        let pending = chain.events[0].signed().clone();
        let note = StoredNote {
            from: chain.agreement().terms.provider,
            note: Note::sign(
                chain.agreement().id,
                Timestamp(LISTED.0 + 61),
                "gate".into(),
                &chain.provider,
            ),
        };
        let owned = StoredAgreement {
            state: chain.agreement().clone(),
            pending: Some(pending.clone()),
            notes: vec![note.clone()],
            refused: Some(Refusal::TooMany),
        };
        let borrowed = StoredRef {
            state: chain.agreement(),
            pending: Some(&pending),
            notes: std::slice::from_ref(&note),
            refused: Some(Refusal::TooMany),
        };
        assert_eq!(encode(&owned), encode(&borrowed));
        let id = chain.agreement().id;
        assert_eq!(decode_agreement(&id, &encode(&borrowed)).unwrap(), owned);
    }
}
