//! Hostile peers on either side: every way to misbehave ends the request or session
//! with its typed error and the fault to charge, never a panic; "busy" and "not
//! served" blame nobody.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use swapmesh_protocol::{RecordId, Topic};
use swapmesh_sync::{
    Admission, Bound, Config, FETCH_IDS, Fingerprint, Handled, Initiator, MAX_RECORDS, MAX_RETRIES,
    MAX_SESSIONS_PER_PEER, MemoryTopics, Message, MessageRange, Mode, PeerFault, RETRY_FIRST,
    Refusal, ResponderLimits, Responders, SESSION_IDLE, Served, SessionConfig, SessionError,
    SyncError, SyncRequest, SyncResponse, WireError,
};

use crate::support::{BASE, PEER, ingest, nodes, record, topic};

const FRAME: usize = 1 << 20;

fn config() -> SessionConfig {
    SessionConfig::new(FRAME).unwrap()
}

/// An initiator over `a`, driven honestly against `b` until it gives a request of
/// `kind`, which is out (unanswered) when this returns.
fn until(kind: &str, a: &mut MemoryTopics, b: &mut MemoryTopics) -> (Initiator, SyncRequest) {
    let mut responders = Responders::new(config());
    let mut session = Initiator::new(topic(), 9, config()).unwrap();
    let now = Instant::now();
    loop {
        let request = session
            .poll_request(a)
            .unwrap()
            .unwrap_or_else(|| panic!("the session ended before a {kind} request"));
        if request.kind() == kind {
            return (session, request);
        }
        let answer = match responders.handle(&PEER, request, now, b) {
            Served::Answer(answer) => answer,
            Served::Ingest { topic, records } => SyncResponse::pushed(ingest(b, &topic, records)),
            Served::Refused { error, .. } => panic!("refused: {error}"),
        };
        if let Handled::Fetched(records) = session.handle_response(a, answer).unwrap() {
            let stored = ingest(a, &topic(), records);
            session.stored(stored);
        }
    }
}

/// Two nodes that each lack a few of the other's records.
fn pair(seed: u64) -> (MemoryTopics, MemoryTopics) {
    nodes(seed, 20, 3, 3, |_| 100)
}

/// Builds a hostile answer to a fetch from the records asked for and a stranger.
type Forge = fn(&[Vec<u8>], Vec<u8>) -> Vec<Vec<u8>>;
/// Whether an error is the one expected.
type Check = fn(&SessionError) -> bool;

fn assert_fault(err: &SessionError, fault: PeerFault) {
    assert_eq!(err.fault(), Some(fault), "{err}");
}

// ---- A hostile responder, against our initiator. ----

#[test]
fn a_responder_that_never_settles_ends_in_too_many_rounds() {
    let (a, _) = nodes(1, 200, 0, 0, |_| 50);
    let mut session = Initiator::new(topic(), 1, config()).unwrap();
    let mut answered = 0u32;
    let err = loop {
        let request = match session.poll_request(&a) {
            Ok(request) => request.expect("no end without the peer's agreement"),
            Err(e) => break e,
        };
        assert_eq!(request.kind(), "reconcile");
        // "My whole set differs from yours", every time.
        answered += 1;
        let message = Message {
            ranges: vec![MessageRange {
                upper: Bound::End,
                mode: Mode::Fingerprint(Fingerprint([answered as u8; 16])),
            }],
        };
        let answer = SyncResponse::Reconcile {
            message: message.encode(),
            proof: None,
        };
        if let Err(e) = session.handle_response(&a, answer) {
            break e;
        }
    };
    let limit = Config::default().max_rounds;
    assert!(
        matches!(err, SessionError::Reconcile(SyncError::TooManyRounds { limit: l }) if l == limit),
        "{err}"
    );
    assert_fault(&err, PeerFault::Protocol);
    assert!(answered <= limit);
    // The session is over for good.
    assert!(matches!(
        session.poll_request(&a),
        Err(SessionError::OutOfOrder(_))
    ));
}

#[test]
fn records_not_asked_for_or_sent_twice_or_undecodable_are_a_records_fault() {
    let mut rng = StdRng::seed_from_u64(2);
    let stranger = record(&mut rng, BASE, 100);
    let cases: [Forge; 3] = [
        |_, stranger| vec![stranger],
        |asked, _| vec![asked[0].clone(), asked[0].clone()],
        |_, _| vec![vec![1, 2, 3]],
    ];
    for (n, case) in cases.into_iter().enumerate() {
        let (mut a, mut b) = pair(3);
        let (mut session, request) = until("fetch", &mut a, &mut b);
        let SyncRequest::Fetch { ids, .. } = request else {
            unreachable!()
        };
        let asked: Vec<Vec<u8>> = ids
            .iter()
            .map(|id| {
                swapmesh_sync::SyncSource::record(&b, &topic(), id)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        let records = case(&asked, stranger.clone());
        let err = session
            .handle_response(&a, SyncResponse::Records { records })
            .unwrap_err();
        match n {
            0 | 1 => assert!(matches!(err, SessionError::NotAskedFor { .. }), "{err}"),
            _ => assert!(matches!(err, SessionError::BadRecord { .. }), "{err}"),
        }
        assert_fault(&err, PeerFault::Records);
    }
}

#[test]
fn an_answer_over_the_bounds_is_a_protocol_fault() {
    let (mut a, mut b) = pair(4);
    let (mut session, _) = until("fetch", &mut a, &mut b);
    let too_many = SyncResponse::Records {
        records: vec![vec![0; 8]; MAX_RECORDS + 1],
    };
    let err = session
        .handle_response_bytes(&a, &too_many.encode())
        .unwrap_err();
    assert!(
        matches!(err, SessionError::Wire(WireError::TooMany { count, limit, .. }) if count == limit + 1),
        "{err}"
    );
    assert_fault(&err, PeerFault::Protocol);

    let (mut session, _) = until("fetch", &mut a, &mut b);
    let err = session
        .handle_response_bytes(&a, &vec![1; FRAME + 1])
        .unwrap_err();
    assert!(
        matches!(err, SessionError::Wire(WireError::TooLarge { .. })),
        "{err}"
    );
}

#[test]
fn unknown_versions_and_kinds_and_wrong_answers_are_protocol_faults() {
    let cases: [(&[u8], Check); 5] = [
        (&[2, 0, 0], |e| {
            matches!(
                e,
                SessionError::Wire(WireError::UnknownVersion { version: 2 })
            )
        }),
        (&[1, 9], |e| {
            matches!(e, SessionError::Wire(WireError::UnknownKind { kind: 9 }))
        }),
        (&[], |e| matches!(e, SessionError::Wire(WireError::Empty))),
        // Tag 0 spelled long: not canonical.
        (&[1, 251, 0, 0, 0], |e| {
            matches!(e, SessionError::Wire(WireError::Malformed(_)))
        }),
        // A well-formed "pushed" in answer to a reconciliation message.
        (&[1, 2, 0], |e| {
            matches!(
                e,
                SessionError::WrongResponse {
                    expected: "reconcile",
                    got: "pushed"
                }
            )
        }),
    ];
    for (bytes, expected) in cases {
        let (mut a, mut b) = pair(5);
        let (mut session, _) = until("reconcile", &mut a, &mut b);
        let err = session.handle_response_bytes(&a, bytes).unwrap_err();
        assert!(expected(&err), "{bytes:?}: {err}");
        assert_fault(&err, PeerFault::Protocol);
    }
}

#[test]
fn busy_is_asked_again_after_doubling_waits_then_ends_without_blame() {
    let (mut a, mut b) = pair(6);
    let (mut session, first) = until("reconcile", &mut a, &mut b);
    let busy = || SyncResponse::Refused {
        reason: Refusal::Busy,
    };
    let mut waits = Vec::new();
    for _ in 0..MAX_RETRIES {
        match session.handle_response(&a, busy()).unwrap() {
            Handled::RetryLater { after } => waits.push(after),
            other => panic!("{other:?}"),
        }
        let again = session.poll_request(&a).unwrap().expect("the same request");
        assert_eq!(again.encode(), first.encode());
    }
    assert_eq!(waits[0], RETRY_FIRST);
    assert!(waits.windows(2).all(|w| w[1] == w[0] * 2), "{waits:?}");
    let err = session.handle_response(&a, busy()).unwrap_err();
    assert!(
        matches!(&err, SessionError::Refused(r) if r.is_retry_later()),
        "{err}"
    );
    assert_eq!(err.fault(), None);
}

#[test]
fn an_answer_after_busy_goes_on_and_resets_the_retries() {
    let (mut a, mut b) = pair(7);
    let (mut session, request) = until("reconcile", &mut a, &mut b);
    let busy = SyncResponse::Refused {
        reason: Refusal::Busy,
    };
    assert!(matches!(
        session.handle_response(&a, busy.clone()).unwrap(),
        Handled::RetryLater { .. }
    ));
    let again = session.poll_request(&a).unwrap().unwrap();
    assert_eq!(again.encode(), request.encode());
    let mut responders = Responders::new(config());
    let Served::Answer(answer) = responders.handle(&PEER, again, Instant::now(), &b) else {
        panic!("an answer");
    };
    let _ = session.handle_response(&a, answer).unwrap();
    // Counted from zero again: a whole run of retries is allowed.
    for _ in 0..MAX_RETRIES {
        let _ = session.poll_request(&a).unwrap().unwrap();
        assert!(matches!(
            session.handle_response(&a, busy.clone()).unwrap(),
            Handled::RetryLater { .. }
        ));
    }
}

#[test]
fn a_refusal_ends_the_session_without_blame_and_a_false_count_with_blame() {
    let (mut a, mut b) = pair(6);
    let (mut session, _) = until("reconcile", &mut a, &mut b);
    let err = session
        .handle_response(
            &a,
            SyncResponse::Refused {
                reason: Refusal::NotServing,
            },
        )
        .unwrap_err();
    assert!(
        matches!(&err, SessionError::Refused(Refusal::NotServing)),
        "{err}"
    );
    assert_eq!(err.fault(), None);

    let (mut session, request) = until("push", &mut a, &mut b);
    let SyncRequest::Push { records, .. } = request else {
        unreachable!()
    };
    let err = session
        .handle_response(&a, SyncResponse::pushed(records.len() + 1))
        .unwrap_err();
    assert!(matches!(err, SessionError::StoredTooMany { .. }), "{err}");
    assert_fault(&err, PeerFault::Protocol);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_as_an_answer_end_in_a_typed_error_or_a_valid_step(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        kind in prop_oneof![Just("reconcile"), Just("fetch"), Just("push")],
        versioned in any::<bool>(),
    ) {
        let mut bytes = bytes;
        if versioned && !bytes.is_empty() {
            bytes[0] = 1; // get past the version byte more often
        }
        let (mut a, mut b) = pair(7);
        let (mut session, _) = until(kind, &mut a, &mut b);
        match session.handle_response_bytes(&a, &bytes) {
            Ok(_) => {}
            Err(SessionError::Refused(_)) => {}
            Err(e) => prop_assert!(e.is_peer_fault(), "{e}"),
        }
    }
}

// ---- A hostile initiator, against our responders. ----

/// The first reconciliation message of a fresh session `session` over `a`.
fn opening(a: &MemoryTopics, session: u64) -> SyncRequest {
    Initiator::new(topic(), session, config())
        .unwrap()
        .poll_request(a)
        .unwrap()
        .unwrap()
}

/// Two large nodes that share nothing: no first answer ends a session.
fn strangers() -> (MemoryTopics, MemoryTopics) {
    let (a, _) = nodes(10, 0, 1_000, 0, |_| 20);
    let (b, _) = nodes(11, 0, 1_000, 0, |_| 20);
    (a, b)
}

fn refused(served: Served) -> (Refusal, SessionError) {
    match served {
        Served::Refused {
            response: SyncResponse::Refused { reason },
            error,
        } => (reason, error),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_oversize_or_repetitive_fetch_is_refused_as_a_protocol_fault() {
    let (_, b) = pair(12);
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let oversize = SyncRequest::Fetch {
        topic: topic(),
        ids: (0..=FETCH_IDS as u32)
            .map(|n| {
                let mut id = [0; 32];
                id[..4].copy_from_slice(&n.to_le_bytes());
                RecordId(id)
            })
            .collect(),
    };
    let bytes = oversize.encode();
    for served in [
        responders.handle(&PEER, oversize, now, &b),
        responders.serve(&PEER, &bytes, now, &b),
    ] {
        let (reason, error) = refused(served);
        assert!(matches!(reason, Refusal::BadRequest(_)), "{reason}");
        assert!(
            matches!(error, SessionError::Wire(WireError::TooMany { count, .. }) if count == FETCH_IDS + 1),
            "{error}"
        );
        assert_fault(&error, PeerFault::Protocol);
    }
    let twice = SyncRequest::Fetch {
        topic: topic(),
        ids: vec![RecordId([7; 32]); 2],
    };
    let (_, error) = refused(responders.serve(&PEER, &twice.encode(), now, &b));
    assert!(
        matches!(error, SessionError::Wire(WireError::DuplicateId(_))),
        "{error}"
    );
}

#[test]
fn a_fifth_session_of_one_peer_is_busy_not_a_fault() {
    let (a, b) = strangers();
    let mut responders = Responders::new(config());
    let t0 = Instant::now();
    for session in 1..=MAX_SESSIONS_PER_PEER as u64 {
        let served = responders.handle(&PEER, opening(&a, session), t0, &b);
        assert!(matches!(served, Served::Answer(_)), "{served:?}");
    }
    let (reason, error) = refused(responders.handle(&PEER, opening(&a, 99), t0, &b));
    assert_eq!(reason, Refusal::Busy);
    assert!(reason.is_retry_later());
    assert!(
        matches!(
            error,
            SessionError::Busy {
                limit: MAX_SESSIONS_PER_PEER
            }
        ),
        "{error}"
    );
    assert_eq!(error.fault(), None);
    // Other peers are not held back, and a known session goes on.
    assert!(matches!(
        responders.handle(&2, opening(&a, 99), t0, &b),
        Served::Answer(_)
    ));
    assert_eq!(responders.open_with(&PEER), MAX_SESSIONS_PER_PEER);
    // Once the peer's sessions are gone, it may start again.
    assert_eq!(responders.forget(&PEER), MAX_SESSIONS_PER_PEER);
    assert!(matches!(
        responders.handle(&PEER, opening(&a, 99), t0, &b),
        Served::Answer(_)
    ));
}

#[test]
fn idle_sessions_expire_on_the_now_passed_in() {
    let (a, b) = strangers();
    let mut responders = Responders::new(config());
    let t0 = Instant::now();
    for session in 1..=MAX_SESSIONS_PER_PEER as u64 {
        let _ = responders.handle(&PEER, opening(&a, session), t0, &b);
    }
    let just_before = t0 + SESSION_IDLE - Duration::from_millis(1);
    assert_eq!(responders.expire(just_before), 0);
    let (reason, _) = refused(responders.handle(&PEER, opening(&a, 99), just_before, &b));
    assert_eq!(reason, Refusal::Busy);
    // A minute after their last request they are gone, and a new one is welcome.
    let later = t0 + SESSION_IDLE;
    assert!(matches!(
        responders.handle(&PEER, opening(&a, 99), later, &b),
        Served::Answer(_)
    ));
    assert_eq!(responders.open_with(&PEER), 1);
    // A clock that goes backwards expires nothing and panics nowhere.
    assert_eq!(responders.expire(t0), 0);
}

#[test]
fn an_initiator_that_never_settles_ends_in_too_many_rounds() {
    let (a, b) = strangers();
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let request = opening(&a, 5);
    let limit = Config::default().max_rounds;
    for _ in 0..limit {
        let served = responders.handle(&PEER, request.clone(), now, &b);
        assert!(matches!(served, Served::Answer(_)), "{served:?}");
    }
    let (_, error) = refused(responders.handle(&PEER, request, now, &b));
    assert!(
        matches!(
            error,
            SessionError::Reconcile(SyncError::TooManyRounds { .. })
        ),
        "{error}"
    );
    assert_fault(&error, PeerFault::Protocol);
    assert_eq!(responders.open(), 0, "the broken session is dropped");
}

#[test]
fn a_session_that_changes_topic_is_a_protocol_fault() {
    let (a, mut b) = strangers();
    let other = Topic::parse("swapmesh/1/mesh/other").unwrap();
    b.serve(&other);
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let SyncRequest::Reconcile { message, .. } = opening(&a, 5) else {
        unreachable!()
    };
    let _ = responders.handle(&PEER, opening(&a, 5), now, &b);
    let moved = SyncRequest::Reconcile {
        topic: other,
        session: 5,
        message,
        proof: None,
    };
    let (_, error) = refused(responders.handle(&PEER, moved, now, &b));
    assert!(
        matches!(error, SessionError::TopicChanged { session: 5 }),
        "{error}"
    );
    assert_fault(&error, PeerFault::Protocol);
}

#[test]
fn pushed_records_go_to_the_driver_and_unserved_topics_are_refused_without_blame() {
    let (a, b) = pair(13);
    let mut rng = StdRng::seed_from_u64(13);
    let records: Vec<Vec<u8>> = (0..3).map(|n| record(&mut rng, BASE + n, 64)).collect();
    let mut responders = Responders::new(config());
    let now = Instant::now();
    // A push names a session that found the difference: open one.
    let mut initiator = Initiator::new(topic(), 42, config()).unwrap();
    let first = initiator
        .poll_request(&a)
        .unwrap()
        .expect("a first request");
    let Served::Answer(_) = responders.handle(&PEER, first, now, &b) else {
        panic!("the first round is answered")
    };
    let push = SyncRequest::Push {
        topic: topic(),
        session: 42,
        records: records.clone(),
    };
    match responders.serve(&PEER, &push.encode(), now, &b) {
        Served::Ingest {
            topic: t,
            records: r,
        } => assert_eq!((t, r), (topic(), records)),
        other => panic!("{other:?}"),
    }
    for request in [
        SyncRequest::Push {
            topic: Topic::parse("swapmesh/1/mesh/other").unwrap(),
            session: 42,
            records: vec![],
        },
        SyncRequest::Fetch {
            topic: Topic::parse("swapmesh/1/mesh/other").unwrap(),
            ids: vec![],
        },
    ] {
        let (reason, error) = refused(responders.handle(&PEER, request, now, &b));
        assert_eq!(reason, Refusal::NotServing);
        assert_eq!(error.fault(), None, "{error}");
    }
    let flood = SyncRequest::Push {
        topic: topic(),
        session: 42,
        records: vec![vec![0; 4]; MAX_RECORDS + 1],
    };
    let (_, error) = refused(responders.serve(&PEER, &flood.encode(), now, &b));
    assert_fault(&error, PeerFault::Protocol);
}

#[test]
fn a_push_outside_a_session_of_the_last_minute_is_refused_as_a_fault() {
    let (a, b) = pair(15);
    let mut rng = StdRng::seed_from_u64(15);
    let records: Vec<Vec<u8>> = (0..2).map(|n| record(&mut rng, BASE + n, 64)).collect();
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let push = |session: u64| SyncRequest::Push {
        topic: topic(),
        session,
        records: records.clone(),
    };
    // No session at all.
    let (_, error) = refused(responders.handle(&PEER, push(7), now, &b));
    assert!(
        matches!(error, SessionError::NoSession { session: 7 }),
        "{error}"
    );
    assert_fault(&error, PeerFault::Protocol);
    // A whole session, run to its push: its id stays known for the push, to
    // this peer only, for SESSION_IDLE.
    let (mut a, b) = (a, b);
    let mut initiator = Initiator::new(topic(), 9, config()).unwrap();
    let pushed = loop {
        let request = initiator
            .poll_request(&a)
            .unwrap()
            .expect("a push before the end");
        if request.kind() == "push" {
            break request;
        }
        let answer = match responders.handle(&PEER, request, now, &b) {
            Served::Answer(answer) => answer,
            other => panic!("{other:?}"),
        };
        if let Handled::Fetched(records) = initiator.handle_response(&a, answer).unwrap() {
            let stored = ingest(&mut a, &topic(), records);
            initiator.stored(stored);
        }
    };
    assert!(
        matches!(pushed, SyncRequest::Push { session: 9, .. }),
        "the initiator's push names its session"
    );
    assert!(matches!(
        responders.handle(&PEER, pushed, now, &b),
        Served::Ingest { .. }
    ));
    assert!(matches!(
        responders.handle(&PEER, push(9), now, &b),
        Served::Ingest { .. }
    ));
    let (_, error) = refused(responders.handle(&(PEER + 1), push(9), now, &b));
    assert_fault(&error, PeerFault::Protocol);
    let wrong_topic = SyncRequest::Push {
        topic: Topic::parse("swapmesh/1/area/u4prv").unwrap(),
        session: 9,
        records: vec![],
    };
    if let Served::Refused { error, .. } = responders.handle(&PEER, wrong_topic, now, &b) {
        assert!(error.is_peer_fault() || matches!(error, SessionError::NotServing(_)));
    } else {
        panic!("a push on another topic than its session's is refused");
    }
    // Older than SESSION_IDLE: forgotten.
    let later = now + SESSION_IDLE + Duration::from_secs(1);
    responders.expire(later);
    assert_eq!(responders.open() + responders.remembered(), 0);
    let (_, error) = refused(responders.handle(&PEER, push(9), later, &b));
    assert!(matches!(error, SessionError::NoSession { .. }), "{error}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_as_a_request_are_answered_without_panic(
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 1..8),
    ) {
        let (_, b) = pair(14);
        let mut responders = Responders::new(config());
        let now = Instant::now();
        for mut bytes in frames {
            if let Some(first) = bytes.first_mut() {
                *first = 1;
            }
            match responders.serve(&PEER, &bytes, now, &b) {
                Served::Refused { response, error } => {
                    let SyncResponse::Refused { reason } = &response else {
                        panic!("a refusal answers with a refusal")
                    };
                    prop_assert!(error.is_peer_fault() || reason != &Refusal::Unavailable, "{error}");
                    prop_assert!(response.encode().len() < 1024);
                }
                Served::Answer(answer) => prop_assert!(answer.encode().len() <= FRAME),
                Served::Ingest { .. } => {}
            }
            prop_assert!(responders.open() <= MAX_SESSIONS_PER_PEER);
        }
    }
}

/// A reconciliation request of `session` that lists `items` as the sender's
/// whole set.
fn listing(session: u64, items: Vec<swapmesh_sync::Item>) -> SyncRequest {
    SyncRequest::Reconcile {
        topic: topic(),
        session,
        message: Message::list(items).encode(),
        proof: None,
    }
}

#[test]
fn endless_rounds_of_fresh_lists_leave_the_responders_no_items() {
    let (_, b) = strangers();
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(14);
    for peer in 1..=3u64 {
        for session in 1..=MAX_SESSIONS_PER_PEER as u64 {
            for _ in 0..16 {
                // Items the responder lacks, new each round: a responder that
                // remembered what it lacks would grow by 2,000 each time.
                let items = crate::support::random_items(&mut rng, 2_000, 86_400);
                let served = responders.handle(&peer, listing(session, items), now, &b);
                assert!(matches!(served, Served::Answer(_)), "{served:?}");
                assert_eq!(responders.held_items(), 0);
                assert!(responders.memory() <= responders.memory_limit());
            }
        }
    }
    assert!(responders.remembered() + responders.open() > 0);
}

#[test]
fn at_the_global_cap_a_newcomer_displaces_the_greediest_peer_and_equals_are_busy() {
    let (a, b) = strangers();
    let limits = ResponderLimits {
        max_sessions: 6,
        ..ResponderLimits::default()
    };
    let mut responders = Responders::with_limits(config(), limits);
    let now = Instant::now();
    let mut ask = |peer: u64, session: u64| responders.handle(&peer, opening(&a, session), now, &b);
    for session in 1..=4 {
        assert!(matches!(ask(1, session), Served::Answer(_)));
    }
    for session in 1..=2 {
        assert!(matches!(ask(2, session), Served::Answer(_)));
    }
    // At the cap, peer 2 (two sessions) takes the place of one of peer 1's
    // (four).
    assert!(matches!(ask(2, 3), Served::Answer(_)));
    // Now they hold three each: busy, not a fault.
    let (reason, error) = refused(ask(2, 4));
    assert_eq!(reason, Refusal::Busy);
    assert!(matches!(error, SessionError::Busy { limit: 6 }), "{error}");
    assert_eq!(error.fault(), None);
    // A newcomer gets in all the same.
    assert!(matches!(ask(3, 1), Served::Answer(_)));
    assert_eq!(responders.open(), 6);
    assert_eq!(responders.open_with(&3), 1);
    assert_eq!(responders.open_with(&1) + responders.open_with(&2), 5);
    assert!(responders.memory() <= responders.memory_limit());
}

#[test]
fn a_peer_over_its_budget_is_busy_then_flooding_and_others_are_served() {
    let (a, b) = strangers();
    let limits = ResponderLimits {
        bytes_per_second: 100_000,
        burst_bytes: 400_000,
        ..ResponderLimits::default()
    };
    let mut responders = Responders::with_limits(config(), limits);
    let t0 = Instant::now();
    let request = opening(&a, 1).encode();
    let mut served = 0;
    let (reason, error) = loop {
        match responders.serve(&PEER, &request, t0, &b) {
            Served::Answer(_) => served += 1,
            refusal => break refused(refusal),
        }
        assert!(served < 1_000, "the budget never ran out");
    };
    assert!(served > 0);
    assert_eq!(reason, Refusal::Busy);
    assert!(
        matches!(error, SessionError::OverBudget { flooding: false }),
        "{error}"
    );
    assert_eq!(error.fault(), None);
    // Another peer has a budget of its own.
    assert!(matches!(
        responders.serve(&2, &request, t0, &b),
        Served::Answer(_)
    ));
    // Asking on and on in debt, never waiting, is flooding.
    let error = loop {
        let (_, error) = refused(responders.serve(&PEER, &request, t0, &b));
        if error.fault().is_some() {
            break error;
        }
    };
    assert!(
        matches!(error, SessionError::OverBudget { flooding: true }),
        "{error}"
    );
    assert_eq!(error.fault(), Some(PeerFault::Flooding));
    // The budget refills with time.
    let later = t0 + Duration::from_secs(60);
    assert!(matches!(
        responders.serve(&PEER, &request, later, &b),
        Served::Answer(_)
    ));
}

#[test]
fn a_checked_out_session_is_busy_and_comes_back_only_if_still_open() {
    let (a, b) = strangers();
    let mut responders = Responders::new(config());
    let now = Instant::now();
    let first = opening(&a, 3).encode();
    let Admission::Work(work) = responders.admit(&PEER, &first, now, &b) else {
        panic!("store reads to do");
    };
    assert_eq!(responders.open(), 1);
    // The same session asked again before its answer: busy, no fault.
    let Admission::Served(served) = responders.admit(&PEER, &first, now, &b) else {
        panic!("no second checkout");
    };
    let (reason, error) = refused(served);
    assert_eq!(reason, Refusal::Busy);
    assert_eq!(error.fault(), None);
    let done = work.run(&b);
    assert!(matches!(responders.complete(done, now), Served::Answer(_)));
    assert_eq!(responders.open_with(&PEER), 1);

    // The peer went while its work ran: the answer is given, the session
    // does not come back.
    let Admission::Work(work) = responders.admit(&PEER, &first, now, &b) else {
        panic!("store reads to do");
    };
    assert_eq!(responders.forget(&PEER), 1);
    let done = work.run(&b);
    assert!(matches!(responders.complete(done, now), Served::Answer(_)));
    assert_eq!(responders.open(), 0);
}
