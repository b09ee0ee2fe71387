//! Malformed, oversize and endless input ends in a typed error, never a panic.

use std::sync::OnceLock;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{RecordId, Timestamp};
use swapmesh_sync::{
    Bound, Config, Fingerprint, Item, Malformed, MemoryStore, Message, MessageRange, Mode,
    Reconciler, SyncError,
};

use crate::support::{BASE, pair};

fn item(t: u64, b: u8) -> Item {
    Item::new(Timestamp(BASE + t), RecordId([b; 32]))
}

fn range(upper: Bound, mode: Mode) -> MessageRange {
    MessageRange { upper, mode }
}

fn store() -> &'static MemoryStore {
    static STORE: OnceLock<MemoryStore> = OnceLock::new();
    STORE.get_or_init(|| MemoryStore::from_items(pair(9, 2_000, 0, 0, 86_400).0))
}

/// What handling wire bytes gave.
type Answer = Result<Option<Vec<u8>>, SyncError>;

/// Sends `message` to a fresh responder, and to an initiator right after its first
/// message, through the decoder.
fn feed(bytes: &[u8]) -> (Answer, Answer) {
    let store = store();
    let mut responder = Reconciler::responder(Config::default()).unwrap();
    let mut initiator = Reconciler::initiator(Config::default()).unwrap();
    initiator.initiate(store).unwrap();
    (
        responder.handle_bytes(store, bytes),
        initiator.handle_bytes(store, bytes),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..2_048)) {
        let _ = Message::decode(&bytes, &Config::default());
    }

    #[test]
    fn mutated_honest_messages_are_answered_or_refused_without_panic(
        seed in any::<u64>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        // An honest first message of a 2,000-item set, with a few bytes changed.
        let (a, _) = pair(seed, 500, 0, 0, 86_400);
        let mut bytes = Reconciler::initiator(Config::default()).unwrap().initiate_bytes(&MemoryStore::from_items(a)).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let (responder, initiator) = feed(&bytes);
        for result in [responder, initiator] {
            if let Err(e) = result {
                prop_assert!(e.is_peer_fault(), "{e}");
            }
        }
    }
}

#[test]
fn garbage_and_unknown_versions_are_decode_errors() {
    for bytes in [
        &[][..],
        &[0xff; 64][..],
        &[1, 0, 0][..],
        &[0, 0][..],
        &[0, 0, 0, 0][..],
    ] {
        let (r, i) = feed(bytes);
        assert!(matches!(r, Err(SyncError::Decode(_))), "{bytes:?}: {r:?}");
        assert!(matches!(i, Err(SyncError::Decode(_))), "{bytes:?}: {i:?}");
    }
    // The done message is the smallest valid one: version 0, no bounded ranges, a skip.
    assert_eq!(Message::done().encode(), [0, 0, 0]);
}

#[test]
fn an_oversize_message_is_refused_before_decoding() {
    let config = Config::default();
    let bytes = vec![0u8; config.max_message_bytes + 1];
    assert!(matches!(
        Message::decode(&bytes, &config),
        Err(SyncError::MessageTooLarge { len, limit }) if len == limit + 1
    ));
}

#[test]
fn too_many_ranges_is_a_typed_error() {
    let config = Config::default();
    let mut ranges: Vec<MessageRange> = (0..config.max_ranges as u64)
        .map(|t| range(Bound::At(item(t, 0)), Mode::Skip))
        .collect();
    ranges.push(range(Bound::End, Mode::Skip));
    let bytes = Message { ranges }.encode();
    assert!(bytes.len() <= config.max_message_bytes);
    let (r, i) = feed(&bytes);
    for result in [r, i] {
        assert!(
            matches!(result, Err(SyncError::TooManyRanges { count, limit }) if count == limit + 1),
            "{result:?}"
        );
    }
}

#[test]
fn too_many_ids_is_a_typed_error() {
    let config = Config::default();
    let lacking: Vec<u32> = (0..=config.max_ids as u32).collect();
    let bytes = Message {
        ranges: vec![range(
            Bound::End,
            Mode::IdListReply {
                missing: vec![],
                lacking,
            },
        )],
    }
    .encode();
    assert!(matches!(
        Message::decode(&bytes, &config),
        Err(SyncError::TooManyIds { .. })
    ));
    // The same with listed items, under a smaller limit.
    let small = Config {
        max_ids: 20,
        ..config
    };
    let items: Vec<Item> = (0..21).map(|k| item(k, 1)).collect();
    let bytes = Message {
        ranges: vec![range(Bound::End, Mode::IdList(items))],
    }
    .encode();
    assert!(matches!(
        Message::decode(&bytes, &small),
        Err(SyncError::TooManyIds {
            count: 21,
            limit: 20
        })
    ));
}

#[test]
fn unordered_bounds_and_items_outside_their_range_are_malformed() {
    let config = Config::default();
    let malformed = |ranges: Vec<MessageRange>| {
        let message = Message { ranges };
        let direct = message.validate(&config).unwrap_err();
        let decoded = Message::decode(&message.encode(), &config).unwrap_err();
        (direct, decoded)
    };
    // Times going backwards.
    let (d, w) = malformed(vec![
        range(Bound::At(item(10, 1)), Mode::Skip),
        range(Bound::At(item(5, 1)), Mode::Skip),
        range(Bound::End, Mode::Skip),
    ]);
    assert!(
        matches!(
            d,
            SyncError::Malformed(Malformed::BoundsOutOfOrder { index: 1 })
        ),
        "{d}"
    );
    assert!(
        matches!(
            w,
            SyncError::Malformed(Malformed::TimeOverflow { index: 1 })
        ),
        "{w}"
    );
    // Same time, ids going backwards; and a repeated bound (an empty range).
    for second in [item(10, 0), item(10, 5)] {
        let (d, w) = malformed(vec![
            range(Bound::At(item(10, 5)), Mode::Skip),
            range(Bound::At(second), Mode::Skip),
            range(Bound::End, Mode::Skip),
        ]);
        assert!(
            matches!(
                d,
                SyncError::Malformed(Malformed::BoundsOutOfOrder { index: 1 })
            ),
            "{d}"
        );
        assert!(
            matches!(
                w,
                SyncError::Malformed(Malformed::BoundsOutOfOrder { index: 1 })
            ),
            "{w}"
        );
    }
    // A list claiming an item beyond its range (on the wire a later time shows as
    // the bound going backwards), and one out of order.
    let (d, w) = malformed(vec![
        range(Bound::At(item(10, 0)), Mode::IdList(vec![item(11, 1)])),
        range(Bound::End, Mode::Skip),
    ]);
    assert!(
        matches!(
            d,
            SyncError::Malformed(Malformed::ItemOutsideRange { index: 0 })
        ),
        "{d}"
    );
    assert!(
        matches!(
            w,
            SyncError::Malformed(Malformed::TimeOverflow { index: 0 })
        ),
        "{w}"
    );
    let (d, w) = malformed(vec![
        range(Bound::At(item(10, 5)), Mode::IdList(vec![item(10, 6)])),
        range(Bound::End, Mode::Skip),
    ]);
    assert!(
        matches!(
            d,
            SyncError::Malformed(Malformed::ItemOutsideRange { index: 0 })
        ),
        "{d}"
    );
    assert!(
        matches!(
            w,
            SyncError::Malformed(Malformed::ItemOutsideRange { index: 0 })
        ),
        "{w}"
    );
    let (d, _) = malformed(vec![range(
        Bound::End,
        Mode::IdList(vec![item(2, 1), item(1, 1)]),
    )]);
    assert!(
        matches!(
            d,
            SyncError::Malformed(Malformed::ItemsOutOfOrder { index: 0 })
        ),
        "{d}"
    );
    // A range closed by the end before the last one.
    let message = Message {
        ranges: vec![range(Bound::End, Mode::Skip), range(Bound::End, Mode::Skip)],
    };
    assert!(matches!(
        message.validate(&config),
        Err(SyncError::Malformed(Malformed::MisplacedEnd { index: 0 }))
    ));
    assert!(matches!(
        Message { ranges: vec![] }.validate(&config),
        Err(SyncError::Malformed(Malformed::NoRanges))
    ));
    // A bound whose id prefix ends in a zero byte is not canonical:
    // V1, one bounded range (Skip, dt 5, prefix [0]), last Skip.
    let bytes = [0, 1, 0, 5, 1, 0, 0];
    assert!(matches!(
        Message::decode(&bytes, &config),
        Err(SyncError::Malformed(Malformed::BadBound { index: 0 }))
    ));
}

#[test]
fn replies_that_answer_nothing_asked_are_refused() {
    let store = store();
    let reply = Message {
        ranges: vec![range(
            Bound::End,
            Mode::IdListReply {
                missing: vec![item(1, 1)],
                lacking: vec![],
            },
        )],
    };
    // A reply sent to the responder.
    let mut responder = Reconciler::responder(Config::default()).unwrap();
    assert!(matches!(
        responder.handle(store, &reply),
        Err(SyncError::Unexpected(_))
    ));
    // A reply to the initiator, which sent fingerprints, not a list.
    let mut initiator = Reconciler::initiator(Config::default()).unwrap();
    initiator.initiate(store).unwrap();
    assert!(matches!(
        initiator.handle(store, &reply),
        Err(SyncError::Unexpected(_))
    ));
    // A reply before the first message.
    let mut fresh = Reconciler::initiator(Config::default()).unwrap();
    assert!(matches!(
        fresh.handle(store, &Message::done()),
        Err(SyncError::Unexpected(_))
    ));
}

#[test]
fn a_reply_with_a_bad_index_or_naming_our_own_item_is_malformed() {
    // A small store makes the initiator list its items.
    let ours = MemoryStore::from_items([item(1, 1), item(2, 2)]);
    let start = || {
        let mut initiator = Reconciler::initiator(Config::default()).unwrap();
        let first = initiator.initiate(&ours).unwrap();
        assert!(matches!(first.ranges[0].mode, Mode::IdList(_)));
        initiator
    };
    let reply = |missing, lacking| Message {
        ranges: vec![range(Bound::End, Mode::IdListReply { missing, lacking })],
    };
    assert!(matches!(
        start().handle(&ours, &reply(vec![], vec![2])),
        Err(SyncError::Malformed(Malformed::BadIndex { index: 0 }))
    ));
    assert!(matches!(
        start().handle(&ours, &reply(vec![item(2, 2)], vec![])),
        Err(SyncError::Malformed(Malformed::ContradictsList {
            index: 0
        }))
    ));
    // The honest reply is accepted.
    let mut initiator = start();
    assert!(
        initiator
            .handle(&ours, &reply(vec![item(3, 3)], vec![0]))
            .unwrap()
            .is_none()
    );
    let outcome = initiator.into_outcome();
    assert_eq!(
        (outcome.need, outcome.have),
        (vec![item(3, 3)], vec![item(1, 1)])
    );
}

/// Answers every range of a message with a fresh random fingerprint over the same
/// bounds: a peer that never agrees and keeps the session going.
fn endless_answer(message: &Message, rng: &mut StdRng) -> Message {
    Message {
        ranges: message
            .ranges
            .iter()
            .map(|r| range(r.upper, Mode::Fingerprint(Fingerprint(rng.r#gen()))))
            .collect(),
    }
}

#[test]
fn a_peer_that_keeps_splitting_is_cut_off_after_max_rounds() {
    let store = store();
    let config = Config::default();
    let mut rng = StdRng::seed_from_u64(1);
    // Against our initiator.
    let mut initiator = Reconciler::initiator(config).unwrap();
    let mut request = initiator.initiate(store).unwrap();
    let error = loop {
        match initiator.handle_bytes(store, &endless_answer(&request, &mut rng).encode()) {
            Ok(Some(next)) => request = Message::decode(&next, &config).unwrap(),
            Ok(None) => panic!("the session cannot end: the peer never agrees"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(error, SyncError::TooManyRounds { limit } if limit == config.max_rounds),
        "{error}"
    );
    assert_eq!(initiator.rounds(), config.max_rounds);
    // Against our responder.
    let mut responder = Reconciler::responder(config).unwrap();
    let mut message = endless_answer(&Message::done(), &mut rng);
    let mut answered = 0;
    let error = loop {
        match responder.handle(store, &message) {
            Ok(reply) => {
                answered += 1;
                message = endless_answer(&reply.unwrap(), &mut rng);
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(error, SyncError::TooManyRounds { .. }));
    assert!(error.is_peer_fault());
    assert_eq!(answered, config.max_rounds);
}

#[test]
fn a_configuration_without_room_for_progress_is_refused() {
    for config in [
        Config {
            split_parts: 1,
            ..Config::default()
        },
        Config {
            max_message_bytes: 100,
            ..Config::default()
        },
        Config {
            max_ids: 3,
            ..Config::default()
        },
        Config {
            max_ranges: 4,
            ..Config::default()
        },
        Config {
            max_message_bytes: 2 << 20,
            ..Config::default()
        },
    ] {
        let error = Reconciler::initiator(config).unwrap_err();
        assert!(matches!(error, SyncError::InvalidConfig(_)));
        assert!(!error.is_peer_fault());
    }
}
