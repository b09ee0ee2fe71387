//! Seeded item sets and records, and loops that run a reconciliation or a whole
//! session over bytes, as the node would.

use std::collections::BTreeSet;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{RecordId, Signature, SignedRecord, Timestamp, Topic};
use swapmesh_sync::{
    Config, Handled, Initiator, Item, MemoryTopics, Outcome, Reconciler, Responders, Served,
    SessionConfig, SessionError, SessionReport, SyncError, SyncRequest, SyncResponse, SyncStore,
};

/// A plausible creation time (November 2023).
pub(crate) const BASE: u64 = 1_700_000_000;

/// `n` random items with times in `BASE..BASE + spread`.
pub(crate) fn random_items(rng: &mut StdRng, n: usize, spread: u64) -> Vec<Item> {
    (0..n)
        .map(|_| {
            let t = BASE + rng.gen_range(0..spread.max(1));
            Item::new(Timestamp(t), RecordId(rng.r#gen()))
        })
        .collect()
}

/// Two sets sharing `common` items, with `a_only` and `b_only` of their own.
pub(crate) fn pair(
    seed: u64,
    common: usize,
    a_only: usize,
    b_only: usize,
    spread: u64,
) -> (Vec<Item>, Vec<Item>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let shared = random_items(&mut rng, common, spread);
    let mut a = shared.clone();
    a.extend(random_items(&mut rng, a_only, spread));
    let mut b = shared;
    b.extend(random_items(&mut rng, b_only, spread));
    (a, b)
}

/// What a session cost.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    pub(crate) rounds: u32,
    pub(crate) first_len: usize,
    pub(crate) bytes_out: usize,
    pub(crate) bytes_in: usize,
}

/// Runs initiator (over `a`) against responder (over `b`) on wire bytes.
pub(crate) fn run(
    a: &impl SyncStore,
    b: &impl SyncStore,
    config: Config,
) -> Result<Run, SyncError> {
    let mut initiator = Reconciler::initiator(config)?;
    let mut responder = Reconciler::responder(config)?;
    let mut request = initiator.initiate_bytes(a)?;
    let mut run = Run {
        first_len: request.len(),
        ..Run::default()
    };
    loop {
        run.bytes_out += request.len();
        let response = responder
            .handle_bytes(b, &request)?
            .expect("a responder always answers");
        run.bytes_in += response.len();
        match initiator.handle_bytes(a, &response)? {
            Some(next) => request = next,
            None => break,
        }
    }
    assert!(initiator.is_done());
    run.rounds = initiator.rounds();
    run.outcome = initiator.into_outcome();
    Ok(run)
}

/// The true differences: (in `b` not `a`, in `a` not `b`), sorted.
pub(crate) fn truth(a: &[Item], b: &[Item]) -> (Vec<Item>, Vec<Item>) {
    let a: BTreeSet<Item> = a.iter().copied().collect();
    let b: BTreeSet<Item> = b.iter().copied().collect();
    (
        b.difference(&a).copied().collect(),
        a.difference(&b).copied().collect(),
    )
}

// ---- Session fixtures: records, topics and a driver loop without I/O. ----

/// The topic the session tests sync.
pub(crate) fn topic() -> Topic {
    Topic::parse("swapmesh/1/mesh/local").expect("a valid topic")
}

/// The signed bytes of a record created at `t` with a body of `len` bytes (at least
/// 16). Bodies are opaque to sync: this one starts with its creation time (big
/// endian), which is how [`ingest`] files it; its signature is not checked.
pub(crate) fn record(rng: &mut StdRng, t: u64, len: usize) -> Vec<u8> {
    // The time, 8 random bytes for a unique id, and padding.
    let mut body = vec![0; len.max(16)];
    body[..8].copy_from_slice(&t.to_be_bytes());
    rng.fill(&mut body[8..16]);
    SignedRecord {
        body,
        sig: Signature::from_bytes(&[0; 64]),
    }
    .encode()
}

/// The item a record of [`record`] is filed under.
pub(crate) fn item_of(bytes: &[u8]) -> Item {
    let record = SignedRecord::decode(bytes).expect("a record of ours");
    let t = u64::from_be_bytes(record.body[..8].try_into().expect("8 bytes"));
    Item::new(Timestamp(t), record.id())
}

/// Stores records on `topic` as a node's ingest would; returns how many were new.
pub(crate) fn ingest(into: &mut MemoryTopics, topic: &Topic, records: Vec<Vec<u8>>) -> usize {
    records
        .into_iter()
        .filter(|bytes| {
            let item = item_of(bytes);
            into.insert(topic, item.created_at, item.id, bytes.clone())
        })
        .count()
}

/// Two nodes serving [`topic`] with `common` records in both and `a_only` and
/// `b_only` of their own, bodies of `len` bytes.
pub(crate) fn nodes(
    seed: u64,
    common: usize,
    a_only: usize,
    b_only: usize,
    len: impl Fn(&mut StdRng) -> usize,
) -> (MemoryTopics, MemoryTopics) {
    let mut rng = StdRng::seed_from_u64(seed);
    let topic = topic();
    let (mut a, mut b) = (MemoryTopics::new(), MemoryTopics::new());
    a.serve(&topic);
    b.serve(&topic);
    let make = |rng: &mut StdRng| {
        let t = BASE + rng.gen_range(0..86_400);
        let n = len(rng);
        record(rng, t, n)
    };
    for _ in 0..common {
        let r = make(&mut rng);
        ingest(&mut a, &topic, vec![r.clone()]);
        ingest(&mut b, &topic, vec![r]);
    }
    for _ in 0..a_only {
        let r = make(&mut rng);
        ingest(&mut a, &topic, vec![r]);
    }
    for _ in 0..b_only {
        let r = make(&mut rng);
        ingest(&mut b, &topic, vec![r]);
    }
    (a, b)
}

/// The peer that answers in the session tests.
pub(crate) const PEER: u64 = 1;

/// What crossed the wire in one driven session.
#[derive(Debug, Default)]
pub(crate) struct Trace {
    /// (kind, encoded bytes) of every request.
    pub(crate) requests: Vec<(&'static str, usize)>,
    /// Encoded bytes of every response.
    pub(crate) responses: Vec<usize>,
    /// Ids per fetch.
    pub(crate) fetches: Vec<usize>,
    /// Records per push.
    pub(crate) pushes: Vec<usize>,
}

/// Runs one session of an initiator over `ours` against responders over `theirs`,
/// through the encoders and decoders, as a node's driver would.
pub(crate) fn drive(
    ours: &mut MemoryTopics,
    theirs: &mut MemoryTopics,
    config: SessionConfig,
) -> Result<(SessionReport, Trace), SessionError> {
    let topic = topic();
    let mut responders = Responders::new(config);
    let mut session = Initiator::new(topic.clone(), 42, config)?;
    let mut trace = Trace::default();
    let now = Instant::now();
    while let Some(request) = session.poll_request(ours)? {
        match &request {
            SyncRequest::Fetch { ids, .. } => trace.fetches.push(ids.len()),
            SyncRequest::Push { records, .. } => trace.pushes.push(records.len()),
            SyncRequest::Reconcile { .. } => {}
        }
        let bytes = request.encode();
        trace.requests.push((request.kind(), bytes.len()));
        let answer = match responders.serve(&PEER, &bytes, now, theirs) {
            Served::Answer(answer) => answer,
            Served::Ingest { topic, records } => {
                SyncResponse::pushed(ingest(theirs, &topic, records))
            }
            Served::Refused { response, error } => {
                assert!(
                    !error.is_peer_fault(),
                    "an honest initiator was blamed: {error}"
                );
                response
            }
        };
        let bytes = answer.encode();
        trace.responses.push(bytes.len());
        if let Handled::Fetched(records) = session.handle_response_bytes(ours, &bytes)? {
            let stored = ingest(ours, &topic, records);
            session.stored(stored);
        }
    }
    assert!(session.is_done());
    Ok((session.into_report(), trace))
}
