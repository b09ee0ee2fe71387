//! The `supersedes` rule: a table of cases, each in both argument orders.

use swapmesh_protocol::record::{Version, supersedes, tombstone_expiry};
use swapmesh_protocol::{RecordId, Timestamp};

fn v(seq: u64, id: u8) -> Version {
    Version {
        seq,
        id: RecordId([id; 32]),
    }
}

#[test]
fn supersedes_table() {
    // (a, b, does a supersede b, does b supersede a)
    let cases = [
        (v(2, 9), v(1, 1), true, false),   // higher seq wins whatever the id
        (v(2, 1), v(1, 9), true, false),   // ... in either id order
        (v(1, 1), v(1, 2), true, false),   // equal seq: the lower id wins
        (v(7, 0), v(7, 255), true, false), // extremes
        (v(3, 5), v(3, 5), false, false),  // equal ids are the same record
        (v(0, 1), v(u64::MAX, 0), false, true),
    ];
    for (a, b, ab, ba) in cases {
        assert_eq!(supersedes(a, b), ab, "{a:?} over {b:?}");
        assert_eq!(supersedes(b, a), ba, "{b:?} over {a:?}");
    }
}

#[test]
fn supersedes_is_a_strict_total_order_on_distinct_versions() {
    let versions: Vec<Version> = (0..4)
        .flat_map(|seq| (0..4).map(move |id| v(seq, id)))
        .collect();
    for &a in &versions {
        for &b in &versions {
            if a != b {
                assert!(supersedes(a, b) ^ supersedes(b, a), "{a:?} {b:?}");
            }
            for &c in &versions {
                if supersedes(a, b) && supersedes(b, c) {
                    assert!(supersedes(a, c));
                }
            }
        }
    }
}

#[test]
fn tombstone_outlives_what_it_replaces() {
    assert_eq!(
        tombstone_expiry(Timestamp(10), Timestamp(20)),
        Timestamp(20)
    );
    assert_eq!(
        tombstone_expiry(Timestamp(30), Timestamp(20)),
        Timestamp(30)
    );
}
