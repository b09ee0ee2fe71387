//! What the standing and the explanation say, over small hand-made graphs in
//! a real store.

use std::sync::Arc;

use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::Confidence;
use swapmesh_protocol::{SigningKey, Verified, fixtures};
use swapmesh_store::Store;

use super::testkit::{NOW, rental, vouch};
use super::{Computed, Trust};
use crate::clock::ManualClock;

/// The trust of `home` over `records`, computed.
fn trust_over(home: &SigningKey, records: &[Verified]) -> (Trust, Arc<Computed>) {
    let store = Store::temporary().unwrap();
    store.insert_batch(records, NOW).unwrap();
    let trust = Trust::new(
        author_of(home),
        Arc::new(ManualClock::at(NOW)),
        std::time::Duration::ZERO,
    );
    trust.load(&store).unwrap();
    let computed = trust.now();
    (trust, computed)
}

fn keys(n: u64) -> Vec<SigningKey> {
    (0..n).map(|i| fixtures::key(2_000 + i)).collect()
}

#[test]
fn vouched_by_names_only_people_you_vouch_for() {
    let k = keys(8);
    let (me, b, c, d, e, f, g, h) = (&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7]);
    let mut records = vec![
        vouch(me, b, Confidence::High),
        vouch(me, e, Confidence::Low),
        vouch(me, f, Confidence::Low),
        vouch(me, g, Confidence::Low),
        // c is someone a friend vouches for, not me.
        vouch(b, c, Confidence::High),
    ];
    for voucher in [b, c, e, f, g, h] {
        records.push(vouch(voucher, d, Confidence::Medium));
    }
    let (trust, computed) = trust_over(me, &records);
    let by = trust.standing(&computed, &author_of(d)).vouched_by;
    assert_eq!(by.len(), 3, "{by:?}");
    assert_eq!(by[0], author_of(b), "the highest score first");
    for key in &by {
        assert!(
            [b, e, f, g].iter().any(|k| author_of(k) == *key),
            "{key:?} is not someone I vouch for"
        );
    }
    assert!(!by.contains(&author_of(c)) && !by.contains(&author_of(h)));
}

#[test]
fn deals_known_leave_out_a_crowds_fake_deals() {
    let k = keys(14);
    let (me, friend, seller) = (&k[0], &k[1], &k[2]);
    let mut records = vec![vouch(me, friend, Confidence::High)];
    records.extend(rental(1, seller, friend, Some(5)));
    records.extend(rental(2, seller, friend, Some(4)));
    // Ten fresh keys "rent" from the seller and praise it.
    for (i, fake) in k[4..].iter().enumerate() {
        records.extend(rental(10 + i as u8, seller, fake, Some(5)));
    }
    let (trust, computed) = trust_over(me, &records);
    let standing = trust.standing(&computed, &author_of(seller));
    assert_eq!(standing.deals, 12);
    assert_eq!(standing.deals_known, 2);
    assert_eq!(standing.rating_known, (2, Some(4.5)));

    let why = trust.explain(&computed, &author_of(seller));
    assert_eq!(why.deals.len(), 12);
    let known: Vec<_> = why
        .deals
        .iter()
        .filter(|d| d.other_distance.is_some_and(|d| d <= 2))
        .collect();
    assert_eq!(known.len(), 2);
    assert!(known.iter().all(|d| d.other == author_of(friend)));
}

#[test]
fn trust_explains_its_paths() {
    let k = keys(7);
    let (me, b, c, d, e, f, lone) = (&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6]);
    let records = vec![
        vouch(me, b, Confidence::High),
        vouch(me, c, Confidence::Low),
        vouch(me, e, Confidence::High),
        vouch(b, d, Confidence::Medium),
        vouch(c, d, Confidence::Medium),
        // A longer way, left out: only the shortest paths are given.
        vouch(e, f, Confidence::High),
        vouch(f, d, Confidence::High),
    ];
    let (trust, computed) = trust_over(me, &records);
    let why = trust.explain(&computed, &author_of(d));
    let mut expected = vec![
        vec![author_of(b), author_of(d)],
        vec![author_of(c), author_of(d)],
    ];
    expected.sort();
    let mut paths = why.paths.clone();
    paths.sort();
    assert_eq!(paths, expected);
    assert_eq!(trust.standing(&computed, &author_of(d)).distance, Some(2));

    // Someone nobody vouches for: no path, no distance, score 0.
    let why = trust.explain(&computed, &author_of(lone));
    assert!(why.paths.is_empty());
    let standing = trust.standing(&computed, &author_of(lone));
    assert_eq!((standing.score, standing.distance), (0, None));
}
