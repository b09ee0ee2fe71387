//! Crash safety, the way sled tests itself: a child process writes records (or
//! commits agreement chains) and prints each one only after a durable flush; the
//! parent kills it with SIGKILL at random moments and then checks that every
//! acknowledged write is there and that every index agrees with the records (and
//! every agreement's events replay to its cached state).
//!
//! The child is this test binary run again with an environment switch.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{NOW, Rec, block_on};
use rand::{Rng, SeedableRng, rngs::StdRng};
use swapmesh_protocol::agreement::{
    Action, EventId, Leg, SignedEvent, VerifiedEvent, replay, verify_event,
};
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AgreementId, AuthorKey, ListingId, RecordId, Version, supersedes};
use swapmesh_store::{AgreementCommit, CommitOutcome, Pending, Store, StoreOptions};

const CHILD_DIR: &str = "SWAPMESH_STORE_CRASH_DIR";
const CHILD_ROUND: &str = "SWAPMESH_STORE_CRASH_ROUND";
const ROUNDS: u64 = 60;
/// Addresses a round writes to: later writes are newer versions of earlier ones.
const NAMES: u64 = 40;

/// What the child acknowledged: the record at (round, name) reached this version.
struct Ack {
    name: String,
    version: Version,
}

fn record(round: u64, i: u64) -> Rec {
    Rec {
        // A key a round: a round's addresses stay within one author's quota.
        key: round + 1,
        seq: i / NAMES + 1,
        withdrawn: i % 7 == 6,
        title: format!("Thing {i} of round {round}"),
        ..Rec::new(&format!("r{round}-{}", i % NAMES), "u4pru")
    }
}

/// The child: writes until killed, acknowledging after each durable flush.
fn child(dir: &str, round: u64) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut i = 0;
    loop {
        let batch: Vec<_> = (i..i + 1 + i % 4)
            .map(|j| record(round, j).sign())
            .collect();
        i += batch.len() as u64;
        for r in &batch {
            store.insert(r, NOW).unwrap();
        }
        block_on(store.flush()).unwrap();
        for r in &batch {
            let l = r.body().listing().unwrap();
            writeln!(out, "ACK {} {} {}", l.d, r.body().seq, r.id()).unwrap();
        }
        out.flush().unwrap();
    }
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let name = parts.next()?.to_owned();
    let seq = parts.next()?.parse().ok()?;
    let id: RecordId = parts.next()?.parse().ok()?;
    Some(Ack {
        name,
        version: Version { seq, id },
    })
}

/// Runs this test binary's test `test` as a child writing to `dir` (the path in
/// environment variable `dir_var`), waits for its READY line, lets it write for
/// `wait`, kills it with SIGKILL and returns every line it printed.
fn run_child_until_killed(
    test: &str,
    dir_var: &str,
    dir: &std::path::Path,
    round: u64,
    wait: Duration,
) -> Vec<String> {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(dir_var, dir)
        .env(CHILD_ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = proc.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx
            .recv_timeout(deadline - Instant::now())
            .unwrap_or_else(|e| panic!("round {round}: child did not report READY: {e}"));
        // libtest may print "test name ... " on the same line first.
        let ready = line.ends_with("READY");
        lines.push(line);
        if ready {
            break;
        }
    }
    std::thread::sleep(wait);
    proc.kill().unwrap(); // SIGKILL on Unix
    proc.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        child(&dir, round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_c4a5);
    let started = Instant::now();
    let mut total_acks = 0;
    for round in 0..ROUNDS {
        let lines = run_child_until_killed(
            "acknowledged_writes_survive_sigkill",
            CHILD_DIR,
            dir.path(),
            round,
            Duration::from_millis(rng.gen_range(5..120)),
        );

        let acks: Vec<Ack> = lines.iter().filter_map(|l| parse_ack(l)).collect();
        total_acks += acks.len();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for ack in &acks {
            let address = Rec {
                key: round + 1,
                ..Rec::new(&ack.name, "u4pru")
            }
            .body()
            .address();
            let current = store.current_version(&address).unwrap();
            let ok = current.is_some_and(|c| c == ack.version || supersedes(c, ack.version));
            assert!(
                ok,
                "round {round}: acknowledged {} v{} lost (now {current:?})",
                ack.name, ack.version.seq
            );
            let stored = store.get(&current.unwrap().id).unwrap();
            assert!(
                stored.is_some(),
                "round {round}: current record of {} missing",
                ack.name
            );
        }
        let c = store.check_consistency().unwrap();
        assert!(c.is_ok(), "round {round}: {c:?}");
        drop(store);
    }
    assert!(
        total_acks > ROUNDS as usize,
        "children acknowledged only {total_acks} writes"
    );
    eprintln!(
        "{ROUNDS} kills, {total_acks} acknowledged writes, {:?}",
        started.elapsed()
    );
}

// --- Agreements ------------------------------------------------------------

const AGREEMENT_CHILD_DIR: &str = "SWAPMESH_STORE_CRASH_AGREEMENT_DIR";
const AGREEMENT_ROUNDS: u64 = 20;

/// The calendar item of an agreement here. The fixture chains all name the same
/// drill; each holds an item of its own, named after it, so that every commit is
/// taken (the store does not tie holds to the terms; overlaps have their own
/// tests).
fn chain_item(provider: AuthorKey, id: &AgreementId) -> ListingId {
    ListingId {
        author: provider,
        d: id.to_string()[..16].to_owned(),
    }
}

/// The events of a rent from proposal to completion: six commits.
fn rent_steps(round: u64, i: u64) -> Chain {
    let at = LISTED.plus(round * 20_000 + i * 60);
    let mut chain = Chain::accepted(DealKind::Rent, at);
    let handover = chain
        .act(
            Side::Provider,
            Action::Handover { leg: Leg::Provider },
            at.plus(DAY),
        )
        .unwrap();
    let confirm = |of| Action::Confirm {
        of,
        deposit_returned: None,
    };
    chain
        .act(Side::Receiver, confirm(handover.id()), at.plus(DAY + 60))
        .unwrap();
    let back = chain
        .act(
            Side::Receiver,
            Action::Return { leg: Leg::Provider },
            at.plus(5 * DAY),
        )
        .unwrap();
    chain
        .act(
            Side::Provider,
            Action::Confirm {
                of: back.id(),
                deposit_returned: Some(eur(5000)),
            },
            at.plus(5 * DAY + 60),
        )
        .unwrap();
    chain
}

/// The pending event after the `n`th commit of a chain: the child sets its last
/// event after odd commits and clears it after even ones.
fn pending_after(n: usize, events: &[SignedEvent]) -> Option<SignedEvent> {
    (n % 2 == 1).then(|| events[n - 1].clone())
}

/// The child: commits rent chains event by event until killed, each commit with
/// its hold, its pending event and an outbox entry for the receiver, and
/// acknowledges each after it is durable.
fn agreement_child(dir: &str, round: u64) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    for i in 0.. {
        let full = rent_steps(round, i);
        let mut chain = Chain::new();
        let item = chain_item(author_of(&chain.provider), &full.agreement().id);
        let receiver = author_of(&chain.receiver);
        let signed: Vec<SignedEvent> = full.events.iter().map(|e| e.signed().clone()).collect();
        for (n, event) in full.events.iter().enumerate() {
            chain.push(event.clone(), event.body().at).unwrap();
            let state = chain.agreement();
            let n = n + 1;
            let pending = pending_after(n, &signed);
            let commit = AgreementCommit {
                events: std::slice::from_ref(event),
                pending: pending.as_ref().map_or(Pending::Clear, Pending::Set),
                holds: &[(item.clone(), state.hold())],
                outbox_add: &[(receiver, event.signed().encode())],
                ..AgreementCommit::new(state)
            };
            let outcome = block_on(store.commit_agreement_durable(&commit)).unwrap();
            assert_eq!(outcome, CommitOutcome::Committed);
            writeln!(out, "AGREEMENT {} {n} {}", state.id, state.head()).unwrap();
            out.flush().unwrap();
        }
    }
}

/// What the child acknowledged: the agreement had `len` events, the last being
/// `head`.
struct AgreementAck {
    id: AgreementId,
    len: usize,
    head: EventId,
}

fn parse_agreement_ack(line: &str) -> Option<AgreementAck> {
    let mut parts = line.strip_prefix("AGREEMENT ")?.split(' ');
    let id: RecordId = parts.next()?.parse().ok()?;
    let len = parts.next()?.parse().ok()?;
    let head: EventId = parts.next()?.parse().ok()?;
    Some(AgreementAck {
        id: AgreementId(id.0),
        len,
        head,
    })
}

/// Every stored agreement is whole: its events verify and replay to exactly the
/// cached state, its pending event and its outbox queue follow its chain, and its
/// item's calendar holds what the state holds.
fn check_agreements(store: &Store, round: u64) {
    let receiver = author_of(&Chain::new().receiver);
    let outbox = store.outbox(&receiver).unwrap();
    for stored in store.agreements().unwrap() {
        let id = stored.state.id;
        let events = store.agreement_events(&id).unwrap();
        let verified: Vec<VerifiedEvent> = events
            .iter()
            .map(|e| verify_event(e.clone()).unwrap())
            .collect();
        let replayed = replay(&verified).unwrap();
        assert_eq!(
            replayed.as_ref(),
            Some(&stored.state),
            "round {round}: {id}"
        );
        assert_eq!(stored.pending, pending_after(events.len(), &events));
        let queued: Vec<Vec<u8>> = outbox
            .iter()
            .filter(|(k, _)| k.agreement == id)
            .map(|(_, v)| v.clone())
            .collect();
        let sent: Vec<Vec<u8>> = events.iter().map(SignedEvent::encode).collect();
        assert_eq!(queued, sent, "round {round}: outbox of {id}");
        let item = chain_item(stored.state.terms.provider, &id);
        let held = store.calendar(&item).unwrap().held_by(&id);
        assert_eq!(held, stored.state.hold(), "round {round}: calendar of {id}");
    }
}

#[test]
fn acknowledged_agreement_commits_survive_sigkill() {
    if let Ok(dir) = std::env::var(AGREEMENT_CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        agreement_child(&dir, round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_a9ee);
    let started = Instant::now();
    let mut total_acks = 0;
    for round in 0..AGREEMENT_ROUNDS {
        let lines = run_child_until_killed(
            "acknowledged_agreement_commits_survive_sigkill",
            AGREEMENT_CHILD_DIR,
            dir.path(),
            round,
            Duration::from_millis(rng.gen_range(5..150)),
        );
        let acks: Vec<AgreementAck> = lines
            .iter()
            .filter_map(|l| parse_agreement_ack(l))
            .collect();
        total_acks += acks.len();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for ack in &acks {
            let stored = store.agreement(&ack.id).unwrap();
            let chain = stored.map(|s| s.state.chain).unwrap_or_default();
            assert!(
                chain.len() >= ack.len && chain[ack.len - 1] == ack.head,
                "round {round}: acknowledged event {} of {} lost (chain {chain:?})",
                ack.len,
                ack.id
            );
        }
        check_agreements(&store, round);
        let c = store.check_consistency().unwrap();
        assert!(c.is_ok(), "round {round}: {c:?}");
        drop(store);
    }
    assert!(
        total_acks > AGREEMENT_ROUNDS as usize,
        "children acknowledged only {total_acks} commits"
    );
    eprintln!(
        "{AGREEMENT_ROUNDS} kills, {total_acks} acknowledged agreement commits, {:?}",
        started.elapsed()
    );
}
