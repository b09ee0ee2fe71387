//! Honest sessions: an initiator and the responders, driven by the test alone, end
//! with both nodes holding the union, in frames and batches within the bounds.

use std::time::Instant;

use proptest::prelude::*;
use swapmesh_protocol::RecordId;
use swapmesh_sync::wire::MIN_FRAME_LIMIT;
use swapmesh_sync::{
    FETCH_IDS, Handled, Initiator, MemoryStore, MemoryTopics, Refusal, Responders, Served,
    SessionConfig, SessionError, SyncRequest, SyncSource,
};

use crate::support::{PEER, Trace, drive, nodes, topic};

/// The whole frame limit of the network's default.
const FRAME: usize = 1 << 20;

fn ids(node: &MemoryTopics) -> Vec<RecordId> {
    node.items_of(&topic()).iter().map(|i| i.id).collect()
}

/// Every frame within the limit, every fetch within [`FETCH_IDS`].
fn assert_within(trace: &Trace, frame_limit: usize) {
    for (kind, len) in &trace.requests {
        assert!(*len <= frame_limit, "a {kind} request of {len} B");
    }
    for len in &trace.responses {
        assert!(*len <= frame_limit, "a response of {len} B");
    }
    for n in &trace.fetches {
        assert!((1..=FETCH_IDS).contains(n), "a fetch of {n} ids");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn an_honest_pair_ends_holding_the_union(
        seed in any::<u64>(),
        (common, a_only, b_only) in (0usize..=300, 0usize..=60, 0usize..=60),
        frame_limit in prop_oneof![Just(MIN_FRAME_LIMIT), Just(256 * 1024), Just(FRAME)],
        max_len in prop_oneof![Just(64usize), Just(2_048), Just(30_000)],
    ) {
        let (mut a, mut b) = nodes(seed, common, a_only, b_only, |rng| {
            rand::Rng::gen_range(rng, 16..=max_len)
        });
        let config = SessionConfig::new(frame_limit).unwrap();
        let (report, trace) = drive(&mut a, &mut b, config).unwrap();
        prop_assert_eq!(ids(&a), ids(&b));
        prop_assert_eq!(ids(&a).len(), common + a_only + b_only);
        prop_assert_eq!((report.needed, report.fetched), (b_only, b_only));
        prop_assert_eq!((report.offered, report.pushed), (a_only, a_only));
        assert_within(&trace, frame_limit);
    }
}

#[test]
fn equal_nodes_settle_in_one_round_and_move_nothing() {
    let (mut a, mut b) = nodes(1, 2_000, 0, 0, |_| 300);
    let (report, trace) = drive(&mut a, &mut b, SessionConfig::new(FRAME).unwrap()).unwrap();
    assert_eq!(report.rounds, 1);
    assert_eq!((report.needed, report.offered), (0, 0));
    assert_eq!(trace.requests.len(), 1);
}

#[test]
fn many_missing_records_are_fetched_in_batches_of_at_most_fetch_ids() {
    let (mut a, mut b) = nodes(2, 100, 0, 600, |_| 200);
    let (report, trace) = drive(&mut a, &mut b, SessionConfig::new(FRAME).unwrap()).unwrap();
    assert_eq!(trace.fetches, [FETCH_IDS, FETCH_IDS, 600 - 2 * FETCH_IDS]);
    assert_eq!(report.fetched, 600);
    assert_within(&trace, FRAME);
}

#[test]
fn large_records_move_a_frame_at_a_time_both_ways() {
    // Two 30 KiB records per frame at most: the answers come back short, the rest
    // is asked again, and pushes split.
    let frame = 2 * 30_100 + 1024;
    let (mut a, mut b) = nodes(3, 5, 9, 9, |_| 30_000);
    let config = SessionConfig::new(frame).unwrap();
    let (report, trace) = drive(&mut a, &mut b, config).unwrap();
    assert_eq!((report.fetched, report.pushed), (9, 9));
    assert_eq!(trace.fetches, [9, 7, 5, 3, 1]);
    assert_eq!(trace.pushes, [2, 2, 2, 2, 1]);
    assert_within(&trace, frame);
    assert_eq!(ids(&a), ids(&b));
}

/// A node that lists items whose records it no longer holds (replaced or expired
/// between reconciliation and fetch).
struct Forgetful {
    inner: MemoryTopics,
    lost: Vec<RecordId>,
}

impl SyncSource for Forgetful {
    type Items<'a> = &'a MemoryStore;
    type Error = std::convert::Infallible;

    fn items(&self, topic: &swapmesh_protocol::Topic) -> Option<&MemoryStore> {
        self.inner.items(topic)
    }

    fn record(
        &self,
        topic: &swapmesh_protocol::Topic,
        id: &RecordId,
    ) -> Result<Option<Vec<u8>>, Self::Error> {
        if self.lost.contains(id) {
            return Ok(None);
        }
        self.inner.record(topic, id)
    }
}

#[test]
fn records_the_peer_no_longer_has_end_the_fetch_without_blame() {
    let (mut a, b) = nodes(4, 50, 0, 10, |_| 100);
    let theirs = ids(&b)
        .into_iter()
        .filter(|id| !ids(&a).contains(id))
        .collect::<Vec<_>>();
    let peer = Forgetful {
        inner: b,
        lost: theirs[..4].to_vec(),
    };
    let config = SessionConfig::new(FRAME).unwrap();
    let mut responders = Responders::new(config);
    let mut session = Initiator::new(topic(), 5, config).unwrap();
    let now = Instant::now();
    let mut fetches = Vec::new();
    while let Some(request) = session.poll_request(&a).unwrap() {
        if let SyncRequest::Fetch { ids, .. } = &request {
            assert!(session.is_reconciled());
            assert_eq!(session.report().needed, 10);
            fetches.push(ids.len());
        } else {
            assert!(!session.is_reconciled());
        }
        let Served::Answer(answer) = responders.handle(&PEER, request, now, &peer) else {
            panic!("the peer serves every request");
        };
        if let Handled::Fetched(records) = session.handle_response(&a, answer).unwrap() {
            let stored = crate::support::ingest(&mut a, &topic(), records);
            session.stored(stored);
        }
    }
    // The six it had, then the four it lacks asked once more, answered with none.
    assert_eq!(fetches, [10, 4]);
    let report = session.into_report();
    assert_eq!((report.needed, report.fetched), (10, 6));
}

#[test]
fn a_topic_we_stopped_serving_ends_our_session_without_blame() {
    let (mut a, mut b) = nodes(5, 10, 1, 1, |_| 100);
    a.leave(&topic());
    let err = drive(&mut a, &mut b, SessionConfig::new(FRAME).unwrap()).unwrap_err();
    assert!(matches!(err, SessionError::NotServing(_)), "{err}");
    assert!(!err.is_peer_fault());
}

#[test]
fn a_peer_that_does_not_serve_the_topic_refuses_without_blame() {
    let (mut a, mut b) = nodes(6, 10, 1, 1, |_| 100);
    b.leave(&topic());
    let err = drive(&mut a, &mut b, SessionConfig::new(FRAME).unwrap()).unwrap_err();
    assert!(
        matches!(err, SessionError::Refused(Refusal::NotServing)),
        "{err}"
    );
    assert_eq!(err.fault(), None);
}

#[test]
fn a_frame_limit_that_cannot_hold_a_record_is_refused() {
    assert!(matches!(
        SessionConfig::new(MIN_FRAME_LIMIT - 1),
        Err(SessionError::InvalidConfig(_))
    ));
    assert!(matches!(
        SessionConfig::new(FRAME + 1),
        Err(SessionError::InvalidConfig(_))
    ));
    let config = SessionConfig::new(MIN_FRAME_LIMIT).unwrap();
    assert!(config.reconcile().max_message_bytes <= MIN_FRAME_LIMIT - 1024);
}
