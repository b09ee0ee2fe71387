//! Agreements in the store: one transaction decides stale, already-in-chain and
//! overlapping commits and writes nothing for them; calendars against a model;
//! racing holds; the outbox across a reopen; corrupt values.

mod common;

use std::collections::BTreeMap;
use std::sync::{Barrier, OnceLock};

use common::{block_on, raw_sled};
use proptest::prelude::*;
use swapmesh_protocol::agreement::{
    Action, Agreement, Calendar, EventId, Leg, SignedEvent, Span, VerifiedEvent,
};
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{AgreementId, AuthorKey, ListingId, Timestamp, fixtures};
use swapmesh_store::{
    AgreementCommit, CommitOutcome, Consistency, OutboxKey, Pending, Store, StoreError,
    StoreOptions, StoredAgreement,
};

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;

/// A rent of the fixture drill proposed by the receiver at `LISTED + offset`:
/// offsets a few hours apart give different agreements whose windows overlap.
fn proposed(offset: u64) -> Chain {
    let at = LISTED.plus(offset);
    let mut chain = Chain::new();
    let terms = chain.terms(DealKind::Rent, at);
    chain
        .act(Side::Receiver, chain.proposal(terms), at)
        .expect("proposal applies");
    chain
}

/// The item an agreement's provider leg holds.
fn item(state: &Agreement) -> ListingId {
    state.items[0].clone().expect("a provider item")
}

/// A second item of the provider's, for commits that hold two calendars.
fn other_item(state: &Agreement) -> ListingId {
    ListingId {
        author: state.terms.provider,
        d: "ladder".into(),
    }
}

fn peer(seed: u64) -> AuthorKey {
    author_of(&fixtures::key(seed))
}

/// Commits events with the state they lead to and its hold on its item.
fn commit_events(store: &Store, state: &Agreement, events: &[VerifiedEvent]) -> CommitOutcome {
    let holds = [(item(state), state.hold())];
    store
        .commit_agreement(&AgreementCommit {
            events,
            holds: &holds,
            ..AgreementCommit::new(state)
        })
        .unwrap()
}

/// A peer's outbox entries, in key order.
type Queue = Vec<(OutboxKey, Vec<u8>)>;

/// Everything the agreement trees hold, read through the store's API.
#[derive(PartialEq, Debug)]
struct Snapshot {
    agreements: Vec<StoredAgreement>,
    events: Vec<Vec<SignedEvent>>,
    calendars: Vec<Calendar>,
    outbox: Vec<(AuthorKey, Queue)>,
    /// Counts every tree (a stray entry included) and lists any disagreement.
    consistency: Consistency,
}

fn snapshot(store: &Store, items: &[ListingId]) -> Snapshot {
    let agreements = store.agreements().unwrap();
    let events = agreements
        .iter()
        .map(|a| store.agreement_events(&a.state.id).unwrap())
        .collect();
    let outbox = store
        .outbox_peers()
        .unwrap()
        .into_iter()
        .map(|p| (p, store.outbox(&p).unwrap()))
        .collect();
    let consistency = store.check_consistency().unwrap();
    assert!(consistency.is_ok(), "{:?}", consistency.problems);
    Snapshot {
        agreements,
        events,
        calendars: items.iter().map(|i| store.calendar(i).unwrap()).collect(),
        outbox,
        consistency,
    }
}

#[test]
fn racing_holds_on_one_item_admit_exactly_one() {
    const RACERS: usize = 3;
    // Proposals an hour apart: each window overlaps the others'.
    let chains: Vec<Chain> = (0..RACERS as u64).map(|i| proposed(i * HOUR)).collect();
    let states: Vec<&Agreement> = chains.iter().map(Chain::agreement).collect();
    let the_item = item(states[0]);
    for s in &states {
        assert_eq!(item(s), the_item);
    }
    let mut winners = [0usize; RACERS];
    for round in 0..50 {
        let store = Store::temporary().unwrap();
        let barrier = Barrier::new(RACERS);
        let outcomes: Vec<CommitOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = chains
                .iter()
                .map(|chain| {
                    let (store, barrier) = (&store, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        commit_events(store, chain.agreement(), &chain.events)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<usize> = (0..RACERS)
            .filter(|i| outcomes[*i] == CommitOutcome::Committed)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {outcomes:?}");
        let w = won[0];
        winners[w] += 1;
        let window = states[w].hold().unwrap();
        for (i, outcome) in outcomes.iter().enumerate().filter(|(i, _)| *i != w) {
            assert_eq!(
                *outcome,
                CommitOutcome::Overlap {
                    window,
                    agreement: states[w].id
                },
                "round {round}, racer {i}"
            );
            assert_eq!(store.agreement(&states[i].id).unwrap(), None);
        }
        assert_eq!(
            store.calendar(&the_item).unwrap().entries(),
            &[(window, states[w].id)]
        );
        assert_eq!(store.agreements().unwrap().len(), 1);
        assert!(store.check_consistency().unwrap().is_ok());
    }
    eprintln!("winners by racer: {winners:?}");
}

#[test]
fn stale_commit_changes_nothing() {
    let store = Store::temporary().unwrap();
    let at = LISTED.plus(60);
    let chain = Chain::accepted(DealKind::Rent, at);
    let (proposal, accept) = (&chain.events[0], &chain.events[1]);
    let mut first = Chain::new();
    first.push(proposal.clone(), at).unwrap();
    let proposal_state = first.agreement().clone();
    let state = chain.agreement();
    let receiver = peer(2);

    assert_eq!(
        commit_events(&store, &proposal_state, std::slice::from_ref(proposal)),
        CommitOutcome::Committed
    );
    let queued = [(receiver, b"accept".to_vec())];
    let outcome = store
        .commit_agreement(&AgreementCommit {
            events: std::slice::from_ref(accept),
            holds: &[(item(state), state.hold())],
            outbox_add: &queued,
            ..AgreementCommit::new(state)
        })
        .unwrap();
    assert_eq!(outcome, CommitOutcome::Committed);
    let sent = store.outbox(&receiver).unwrap()[0].0;

    // The provider declines on the proposal, not knowing it accepted: the same
    // proposal (signatures are deterministic), another second event.
    let mut fork = first.clone();
    let decline = fork
        .act(Side::Provider, Action::Decline, at.plus(60))
        .unwrap();
    // Another agreement, accepted, of which the store has seen nothing.
    let mut other = proposed(3 * DAY);
    let hash = other.agreement().terms_hash;
    let other_accept = other
        .act(
            Side::Provider,
            Action::Accept { terms: hash },
            LISTED.plus(3 * DAY + HOUR),
        )
        .unwrap();
    let items = [item(state), other_item(state)];
    let before = snapshot(&store, &items);
    let head = Some(accept.id());

    let stale = [
        // An event on an old head, with everything a commit can carry.
        (
            AgreementCommit {
                events: std::slice::from_ref(&decline),
                pending: Pending::Set(decline.signed()),
                holds: &[(items[0].clone(), None), (items[1].clone(), state.hold())],
                outbox_add: &queued,
                outbox_done: &[sent],
                ..AgreementCommit::new(fork.agreement())
            },
            head,
        ),
        // No events, a state whose head is not the stored one.
        (
            AgreementCommit {
                pending: Pending::Clear,
                holds: &[(items[0].clone(), None)],
                outbox_done: &[sent],
                ..AgreementCommit::new(&proposal_state)
            },
            head,
        ),
        // A linked event of an agreement never stored.
        (
            AgreementCommit {
                events: std::slice::from_ref(&other_accept),
                holds: &[(items[1].clone(), other.agreement().hold())],
                ..AgreementCommit::new(other.agreement())
            },
            None,
        ),
        // A state alone of an agreement never stored.
        (
            AgreementCommit {
                outbox_add: &queued,
                ..AgreementCommit::new(other.agreement())
            },
            None,
        ),
    ];
    for (i, (commit, head)) in stale.iter().enumerate() {
        assert_eq!(
            store.commit_agreement(commit).unwrap(),
            CommitOutcome::Stale { head: *head },
            "commit {i}"
        );
        assert_eq!(
            snapshot(&store, &items),
            before,
            "commit {i} changed the store"
        );
    }
}

#[test]
fn event_in_the_chain_is_already_in_chain_whatever_the_head() {
    let store = Store::temporary().unwrap();
    let at = LISTED.plus(60);
    let mut chain = proposed(60);
    let mut states = vec![chain.agreement().clone()];
    let hash = chain.agreement().terms_hash;
    chain
        .act(
            Side::Provider,
            Action::Accept { terms: hash },
            at.plus(HOUR),
        )
        .unwrap();
    states.push(chain.agreement().clone());
    let handover = chain
        .act(
            Side::Provider,
            Action::Handover { leg: Leg::Provider },
            at.plus(DAY + HOUR),
        )
        .unwrap();
    states.push(chain.agreement().clone());
    chain
        .act(
            Side::Receiver,
            Action::Confirm {
                of: handover.id(),
                deposit_returned: None,
            },
            at.plus(DAY + 2 * HOUR),
        )
        .unwrap();
    states.push(chain.agreement().clone());
    for (i, state) in states.iter().enumerate() {
        assert_eq!(
            commit_events(&store, state, &chain.events[i..=i]),
            CommitOutcome::Committed
        );
    }
    // Another agreement holding the time after this one's.
    let later = proposed(9 * DAY);
    assert_eq!(
        commit_events(&store, later.agreement(), &later.events),
        CommitOutcome::Committed
    );
    let the_item = item(&states[0]);
    let before = snapshot(&store, std::slice::from_ref(&the_item));
    let receiver = peer(2);
    let queued = [(receiver, b"again".to_vec())];
    // A window that overlaps `later`'s: it would be refused, were it looked at.
    let overlapping = Span {
        start: at,
        end: None,
    };
    for i in 0..states.len() {
        // Events i..=end with the state after them.
        for (end, state) in states.iter().enumerate().skip(i) {
            let commit = AgreementCommit {
                events: &chain.events[i..=end],
                pending: Pending::Clear,
                holds: &[(the_item.clone(), Some(overlapping))],
                outbox_add: &queued,
                ..AgreementCommit::new(state)
            };
            assert_eq!(
                store.commit_agreement(&commit).unwrap(),
                CommitOutcome::AlreadyInChain,
                "events {i}..={end}"
            );
            assert_eq!(snapshot(&store, std::slice::from_ref(&the_item)), before);
        }
    }
    let stored = store.agreement(&states[0].id).unwrap().unwrap();
    assert_eq!(stored.state, states[3]);
}

#[test]
fn outbox_survives_reopen_in_order_per_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let chains: Vec<Chain> = (0..3).map(|i| proposed(i * 10 * DAY)).collect();
    let ids: Vec<AgreementId> = chains.iter().map(|c| c.agreement().id).collect();
    let peers = [peer(2), peer(3)];
    let mut pushed: BTreeMap<(AuthorKey, AgreementId), Vec<Vec<u8>>> = BTreeMap::new();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for c in &chains {
            assert_eq!(
                commit_events(&store, c.agreement(), &c.events),
                CommitOutcome::Committed
            );
        }
        // Interleaved: peer, agreement and the way in change every time.
        for n in 0..24usize {
            let (p, a) = (peers[n % 2], n / 2 % 3);
            let payload = format!("payload {n}").into_bytes();
            if n % 3 == 0 {
                let add = [(p, payload.clone())];
                let commit = AgreementCommit {
                    outbox_add: &add,
                    ..AgreementCommit::new(chains[a].agreement())
                };
                assert_eq!(
                    store.commit_agreement(&commit).unwrap(),
                    CommitOutcome::Committed
                );
            } else {
                let key = store.outbox_push(&p, &ids[a], &payload).unwrap();
                assert_eq!((key.peer, key.agreement), (p, ids[a]));
            }
            pushed.entry((p, ids[a])).or_default().push(payload);
        }
        block_on(store.close()).unwrap();
    }
    let read_back = |store: &Store| {
        let mut got: BTreeMap<(AuthorKey, AgreementId), Vec<Vec<u8>>> = BTreeMap::new();
        for p in store.outbox_peers().unwrap() {
            let entries = store.outbox(&p).unwrap();
            let keys: Vec<OutboxKey> = entries.iter().map(|(k, _)| *k).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "key order");
            for (k, v) in entries {
                assert_eq!(k.peer, p);
                got.entry((p, k.agreement)).or_default().push(v);
            }
        }
        got
    };
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut sorted_peers = peers.to_vec();
    sorted_peers.sort();
    assert_eq!(store.outbox_peers().unwrap(), sorted_peers);
    assert_eq!(read_back(&store), pushed);

    // The peer answers the second entry of one agreement's queue.
    let (p, a) = (peers[1], ids[2]);
    let queue: Vec<OutboxKey> = store
        .outbox(&p)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.agreement == a)
        .collect();
    assert!(queue.len() >= 3);
    let commit = AgreementCommit {
        outbox_done: &queue[1..2],
        ..AgreementCommit::new(chains[2].agreement())
    };
    assert_eq!(
        store.commit_agreement(&commit).unwrap(),
        CommitOutcome::Committed
    );
    pushed.get_mut(&(p, a)).unwrap().remove(1);
    assert_eq!(read_back(&store), pushed);
    assert!(store.outbox_remove(&queue[0]).unwrap());
    assert!(!store.outbox_remove(&queue[0]).unwrap());
    pushed.get_mut(&(p, a)).unwrap().remove(0);
    assert_eq!(read_back(&store), pushed);
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn a_commit_that_contradicts_itself_is_refused_unwritten() {
    let store = Store::temporary().unwrap();
    let chain = Chain::accepted(DealKind::Rent, LISTED.plus(60));
    let other = proposed(20 * DAY);
    let state = chain.agreement();
    let before = snapshot(&store, &[item(state)]);
    let contradictions = [
        // The proposal is not the end of the accepted state's chain.
        AgreementCommit {
            events: &chain.events[..1],
            ..AgreementCommit::new(state)
        },
        // Another agreement's event.
        AgreementCommit {
            events: &other.events,
            ..AgreementCommit::new(state)
        },
    ];
    for (i, commit) in contradictions.iter().enumerate() {
        match store.commit_agreement(commit) {
            Err(StoreError::BadCommit(_)) => {}
            other => panic!("commit {i}: expected BadCommit, got {other:?}"),
        }
        assert_eq!(snapshot(&store, &[item(state)]), before, "commit {i}");
    }
    // An accept that extends the stored proposal, with a state whose chain
    // does not start with the stored one.
    assert_eq!(
        commit_events(&store, other.agreement(), &other.events),
        CommitOutcome::Committed
    );
    let hash = other.agreement().terms_hash;
    let mut accepted = other.clone();
    let accept = accepted
        .act(
            Side::Provider,
            Action::Accept { terms: hash },
            LISTED.plus(20 * DAY + HOUR),
        )
        .unwrap();
    assert_eq!(
        commit_events(&store, accepted.agreement(), std::slice::from_ref(&accept)),
        CommitOutcome::Committed
    );
    let handover = accepted
        .act(
            Side::Provider,
            Action::Handover { leg: Leg::Provider },
            LISTED.plus(21 * DAY),
        )
        .unwrap();
    let items = [item(state)];
    let before = snapshot(&store, &items);
    let mut forged = accepted.agreement().clone();
    forged.chain[1] = EventId([7; 32]);
    match store.commit_agreement(&AgreementCommit {
        events: std::slice::from_ref(&handover),
        ..AgreementCommit::new(&forged)
    }) {
        Err(StoreError::BadCommit(_)) => {}
        other => panic!("expected BadCommit, got {other:?}"),
    }
    assert_eq!(snapshot(&store, &items), before);
}

#[test]
fn undecodable_agreement_value_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compression: false,
        ..StoreOptions::default()
    };
    let (a, b) = (proposed(60), proposed(20 * DAY));
    let (ida, idb) = (a.agreement().id, b.agreement().id);
    let the_item = item(a.agreement());
    {
        let store = Store::open(dir.path(), options.clone()).unwrap();
        for c in [&a, &b] {
            assert_eq!(
                commit_events(&store, c.agreement(), &c.events),
                CommitOutcome::Committed
            );
        }
        block_on(store.close()).unwrap();
    }
    {
        let db = raw_sled(dir.path());
        let agreements = db.open_tree("agreements").unwrap();
        // a's value is garbage; b's is a's old value, under b's id.
        let a_value = agreements.insert(ida.0, &b"\x01\x02garbage"[..]).unwrap();
        agreements.insert(idb.0, a_value.unwrap()).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), options).unwrap();
    let corrupt = |r: Result<_, StoreError>, what: &str| match r {
        Err(StoreError::Corrupt { what: w }) => assert!(w.contains(what), "{w}"),
        other => panic!("expected Corrupt naming {what}, got {other:?}"),
    };
    corrupt(store.agreement(&ida).map(drop), &ida.to_string());
    corrupt(store.agreement(&idb).map(drop), "another id");
    corrupt(store.agreements().map(drop), "agreement");
    corrupt(
        store
            .commit_agreement(&AgreementCommit::new(a.agreement()))
            .map(drop),
        &ida.to_string(),
    );
    // The calendar and the events are intact and still read.
    assert_eq!(store.calendar(&the_item).unwrap().entries().len(), 2);
    assert_eq!(store.agreement_events(&ida).unwrap().len(), 1);
    let c = store.check_consistency().unwrap();
    assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
}

// --- The calendar against a model ---------------------------------------------

/// Agreements of the model: four proposals, committed first in every case.
const AGREEMENTS: usize = 4;

fn bases() -> &'static [Chain] {
    static BASES: OnceLock<Vec<Chain>> = OnceLock::new();
    BASES.get_or_init(|| (0..AGREEMENTS as u64).map(|i| proposed(i * HOUR)).collect())
}

/// Which calendars an operation changes: the drill's, the ladder's, or both in
/// one commit (either both change or neither).
#[derive(Clone, Copy, Debug)]
enum Target {
    Drill,
    Ladder,
    Both,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// Hold `[start, start + len)` (open-ended for `None`; empty for 0).
    Hold { start: u64, len: Option<u64> },
    /// Shorten the held window's end by `by` (an open end becomes `start + by`).
    Notice { by: u64 },
    /// Lengthen the held window's end by `by`, or make it open-ended.
    Extend { by: Option<u64> },
    /// Release the item.
    Release,
}

/// One calendar: start → (end, agreement). Two non-empty windows that start
/// together overlap, so the start is a key.
type Model = BTreeMap<u64, (Option<u64>, usize)>;

/// Half-open windows share a second, written out again rather than taken from
/// `Span::overlaps`.
fn model_overlaps(a: (u64, Option<u64>), b: (u64, Option<u64>)) -> bool {
    let nonempty = |(s, e): (u64, Option<u64>)| e.is_none_or(|e| e > s);
    let starts_before_end = |s: u64, e: Option<u64>| e.is_none_or(|e| s < e);
    nonempty(a) && nonempty(b) && starts_before_end(a.0, b.1) && starts_before_end(b.0, a.1)
}

fn model_held(model: &Model, agreement: usize) -> Option<(u64, Option<u64>)> {
    model
        .iter()
        .find(|(_, (_, a))| *a == agreement)
        .map(|(s, (e, _))| (*s, *e))
}

/// Holds a window for `agreement`, or returns the first (by start) window of
/// another agreement it overlaps.
fn model_hold(
    model: &mut Model,
    agreement: usize,
    window: Option<(u64, Option<u64>)>,
) -> Result<(), ((u64, Option<u64>), usize)> {
    if let Some(w) = window {
        let conflict = model
            .iter()
            .find(|(s, (e, a))| *a != agreement && model_overlaps(w, (**s, *e)));
        if let Some((s, (e, a))) = conflict {
            return Err(((*s, *e), *a));
        }
    }
    model.retain(|_, (_, a)| *a != agreement);
    if let Some((s, e)) = window
        && e.is_none_or(|e| e > s)
    {
        model.insert(s, (e, agreement));
    }
    Ok(())
}

fn span((start, end): (u64, Option<u64>)) -> Span {
    Span {
        start: Timestamp(start),
        end: end.map(Timestamp),
    }
}

fn calendar_as_model(calendar: &Calendar, ids: &[AgreementId]) -> Model {
    calendar
        .entries()
        .iter()
        .map(|(s, a)| {
            let index = ids
                .iter()
                .position(|id| id == a)
                .expect("a known agreement");
            (s.start.0, (s.end.map(|e| e.0), index))
        })
        .collect()
}

fn op() -> impl Strategy<Value = (usize, Target, Op)> {
    let target = prop_oneof![
        2 => Just(Target::Drill),
        1 => Just(Target::Ladder),
        1 => Just(Target::Both),
    ];
    let op = prop_oneof![
        4 => (0..60u64, prop_oneof![4 => (0..20u64).prop_map(Some), 1 => Just(None)])
            .prop_map(|(start, len)| Op::Hold { start, len }),
        2 => (1..10u64).prop_map(|by| Op::Notice { by }),
        2 => prop_oneof![4 => (1..10u64).prop_map(Some), 1 => Just(None)]
            .prop_map(|by| Op::Extend { by }),
        1 => Just(Op::Release),
    ];
    (0..AGREEMENTS, target, op)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn calendar_matches_a_btreemap_model(ops in proptest::collection::vec(op(), 1..40)) {
        let store = Store::temporary().unwrap();
        let states: Vec<&Agreement> = bases().iter().map(Chain::agreement).collect();
        let ids: Vec<AgreementId> = states.iter().map(|s| s.id).collect();
        let items = [item(states[0]), other_item(states[0])];
        for chain in bases() {
            let commit = AgreementCommit {
                events: &chain.events,
                ..AgreementCommit::new(chain.agreement())
            };
            prop_assert_eq!(store.commit_agreement(&commit).unwrap(), CommitOutcome::Committed);
        }
        let mut models = [Model::new(), Model::new()];
        for (step, (a, target, op)) in ops.into_iter().enumerate() {
            let which: &[usize] = match target {
                Target::Drill => &[0],
                Target::Ladder => &[1],
                Target::Both => &[0, 1],
            };
            // The window each item gets; an item the op leaves alone is skipped.
            let mut holds = Vec::new();
            for &i in which {
                let held = model_held(&models[i], a);
                let window = match (op, held) {
                    (Op::Hold { start, len }, _) => Some((start, len.map(|l| start + l))),
                    (Op::Notice { by }, Some((s, e))) => {
                        Some((s, Some(e.map_or(s + by, |e| e.saturating_sub(by).max(s)))))
                    }
                    (Op::Extend { by }, Some((s, e))) => {
                        Some((s, by.and_then(|by| e.map(|e| e + by))))
                    }
                    (Op::Release, _) => None,
                    (Op::Notice { .. } | Op::Extend { .. }, None) => continue,
                };
                holds.push((i, window));
            }
            let mut next = models.clone();
            let mut expected = CommitOutcome::Committed;
            for (i, window) in &holds {
                if let Err((w, other)) = model_hold(&mut next[*i], a, *window) {
                    expected = CommitOutcome::Overlap { window: span(w), agreement: ids[other] };
                    break;
                }
            }
            if expected == CommitOutcome::Committed {
                models = next;
            }
            let store_holds: Vec<(ListingId, Option<Span>)> = holds
                .iter()
                .map(|(i, w)| (items[*i].clone(), w.map(span)))
                .collect();
            let commit = AgreementCommit {
                holds: &store_holds,
                ..AgreementCommit::new(states[a])
            };
            let outcome = store.commit_agreement(&commit).unwrap();
            prop_assert_eq!(outcome, expected, "step {}: {:?}", step, holds);
            for i in 0..2 {
                let calendar = store.calendar(&items[i]).unwrap();
                prop_assert_eq!(
                    calendar_as_model(&calendar, &ids),
                    models[i].clone(),
                    "step {}, item {}",
                    step,
                    i
                );
            }
        }
        let c = store.check_consistency().unwrap();
        prop_assert!(c.is_ok(), "{:?}", c.problems);
    }
}

/// Notes are kept once each, the last `MAX_NOTES`, oldest first; a refused first
/// proposal stays marked; both survive a reopen.
#[test]
fn notes_and_a_refusal_are_kept_with_the_agreement() {
    use swapmesh_protocol::agreement::wire::{Note, Refusal};
    use swapmesh_store::{MAX_NOTES, StoredNote};

    let dir = tempfile::tempdir().unwrap();
    let chain = proposed(0);
    let state = chain.agreement();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(
            commit_events(&store, state, &chain.events),
            CommitOutcome::Committed
        );
        let note = |i: u64| StoredNote {
            from: state.terms.receiver,
            note: Note::sign(
                state.id,
                LISTED.plus(i),
                format!("note {i}"),
                &chain.receiver,
            ),
        };
        for i in 0..(MAX_NOTES as u64 + 5) {
            let kept = note(i);
            for _ in 0..2 {
                // The same note twice is kept once.
                let commit = AgreementCommit {
                    note: Some(&kept),
                    ..AgreementCommit::new(state)
                };
                assert_eq!(
                    store.commit_agreement(&commit).unwrap(),
                    CommitOutcome::Committed
                );
            }
        }
        let commit = AgreementCommit {
            refused: Some(Refusal::Unavailable),
            ..AgreementCommit::new(state)
        };
        store.commit_agreement(&commit).unwrap();
        // A later commit without a refusal does not clear it.
        store
            .commit_agreement(&AgreementCommit::new(state))
            .unwrap();
        block_on(store.flush()).unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let stored = store.agreement(&state.id).unwrap().unwrap();
    assert_eq!(stored.notes.len(), MAX_NOTES);
    assert_eq!(stored.notes[0].note.text, "note 5", "the oldest made room");
    assert_eq!(
        stored.notes[MAX_NOTES - 1].note.text,
        format!("note {}", MAX_NOTES + 4)
    );
    assert_eq!(stored.refused, Some(Refusal::Unavailable));
    assert_eq!(stored.state, *state);
}
