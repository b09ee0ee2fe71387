//! Vouches as a node's owner uses them: published, seen by a neighbour, counted
//! in the trust graph, revoked, and renewed while they live.

use swapmesh_protocol::Timestamp;
use swapmesh_protocol::social::{Confidence, VouchClaim};
use swapmesh_protocol::time::DAY;

use crate::kit::{self, wait_until};

const CELL: &str = "u4pru";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vouch_and_revoke_round_trip() {
    let ana = kit::node_with_clock(Some(CELL)).await;
    let ben = kit::node(Some(CELL)).await;
    kit::connect(&ana, &ben).await;
    let (a, b) = (ana.author(), ben.author());
    assert_eq!(ana.trust_of(&b).distance, None);

    let first = ana
        .vouch(
            b,
            VouchClaim::KnownInPerson,
            Confidence::High,
            "next door".into(),
        )
        .await
        .unwrap();
    assert_eq!(ana.trust_of(&b).distance, Some(1));
    assert!(ana.trust_of(&b).score > 0);
    wait_until("Ben's node to hold Ana's vouch", || async {
        ben.vouches(Some(a), Some(b)).unwrap().len() == 1
    })
    .await;

    // Revoked: gone from the graph here, and from Ben's live vouches there.
    ana.revoke_vouch(b).await.unwrap();
    assert_eq!(ana.trust_of(&b).distance, None);
    assert_eq!(ana.trust_of(&b).score, 0);
    assert!(ana.vouches(Some(a), None).unwrap().is_empty());
    wait_until("Ben's node to see the vouch revoked", || async {
        ben.vouches(Some(a), Some(b)).unwrap().is_empty()
    })
    .await;
    // Revoking again: nothing to revoke.
    assert!(matches!(
        ana.revoke_vouch(b).await,
        Err(swapmesh_node::NodeError::NoSuchVouch(_))
    ));

    // Vouched again, then 340 days on: renewed, and it outlives the first
    // version's expiry.
    ana.vouch(b, VouchClaim::Neighbour, Confidence::Low, String::new())
        .await
        .unwrap();
    let expires = first.body().expires_at;
    assert_eq!(ana.renew_vouches().await.unwrap(), 0, "nothing is due yet");
    ana.clock().advance(340 * DAY);
    assert_eq!(ana.renew_vouches().await.unwrap(), 1);
    let live = ana.vouches(Some(a), None).unwrap();
    assert_eq!(live.len(), 1);
    assert!(live[0].body.expires_at > expires.plus(300 * DAY));
    ana.clock().set(Timestamp(expires.0 + DAY));
    ana.trust_now().unwrap();
    assert_eq!(ana.trust_of(&b).distance, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_is_personal() {
    use swapmesh_node::{AgreeError, Clock, ListFilter};
    use swapmesh_protocol::Topic;
    use swapmesh_protocol::fixtures;
    use swapmesh_protocol::social::Profile;

    use crate::agreements::{drill, node_on, proposal, rent};

    // far — middle — x, in a line, on one clock.
    let clock = swapmesh_node::ManualClock::starting_now();
    let far = node_on(&clock).await;
    let middle = node_on(&clock).await;
    let x = node_on(&clock).await;
    kit::connect(&far, &middle).await;
    kit::connect(&middle, &x).await;
    let xa = x.author();

    // X is somebody: a profile, a listing, and trusted by the middle through a
    // vouch; X vouches for a friend the middle knows only through X.
    x.set_profile(Profile {
        name: "Xavier".into(),
        bio: String::new(),
        contact: Vec::new(),
        mail_peers: Vec::new(),
    })
    .await
    .unwrap();
    let x_drill = drill(&x, &[&middle, &far]).await;
    let friend = swapmesh_protocol::signed::author_of(&fixtures::key(77));
    middle
        .vouch(xa, VouchClaim::Neighbour, Confidence::High, String::new())
        .await
        .unwrap();
    x.vouch(
        friend,
        VouchClaim::KnownInPerson,
        Confidence::High,
        String::new(),
    )
    .await
    .unwrap();
    wait_until("X's vouch to reach the middle", || async {
        !middle.vouches(Some(xa), None).unwrap().is_empty()
    })
    .await;
    middle.trust_now().unwrap();
    assert_eq!(middle.trust_of(&friend).distance, Some(2));

    middle.block_author(xa).await.unwrap();
    assert_eq!(middle.blocked_authors(), vec![xa]);

    // Gone from the middle's API and search, and its vouches lend nothing.
    assert!(middle.listing(&x_drill).unwrap().is_none());
    assert!(middle.profile(xa).unwrap().is_none());
    let found = middle.search(&Default::default()).unwrap();
    assert!(found.records.iter().all(|r| r.body.author != xa));
    assert_eq!(middle.trust_of(&friend).score, 0);
    assert_eq!(middle.trust_of(&friend).distance, None);

    // X's proposal is refused as if the listing were not there; the middle
    // proposes nothing to X.
    let own = drill(&middle, &[&x]).await;
    let start = clock.now().plus(DAY);
    let refused = x.propose(proposal(&own, rent(start, 2, 500))).await;
    assert!(
        matches!(refused, Err(AgreeError::Unavailable)),
        "{refused:?}"
    );
    assert!(
        middle
            .agreements(&ListFilter::default())
            .unwrap()
            .0
            .is_empty()
    );
    let ours = middle
        .propose(proposal(&x_drill, rent(start, 2, 500)))
        .await;
    assert!(matches!(ours, Err(AgreeError::Blocked(_))), "{ours:?}");

    // The middle still stores and forwards X's records: the far node gets X's
    // new listing through it, and sync finds no difference either side.
    x.publish_listing(fixtures::listing("ladder"))
        .await
        .unwrap();
    let ladder = kit::listing_id(&x, "ladder");
    wait_until("X's ladder to reach the far node", || async {
        kit::held(&far, &ladder).is_some()
    })
    .await;
    let address = swapmesh_protocol::Address {
        author: xa,
        kind: swapmesh_protocol::RecordKind::Listing,
        d: ladder.d.clone(),
    };
    assert!(
        middle.store().get_current(&address).unwrap().is_some(),
        "the middle keeps it in its store"
    );
    let cell = Topic::area(&swapmesh_protocol::Geohash::parse_cell(CELL).unwrap());
    for neighbour in [&far, &x] {
        let report = middle.sync_with(neighbour.peer_id(), &cell).await.unwrap();
        assert_eq!(
            (report.needed, report.offered),
            (0, 0),
            "the middle differs from a neighbour: {report:?}"
        );
    }

    // Unblocked: visible again.
    middle.unblock_author(xa).await.unwrap();
    assert!(middle.listing(&x_drill).unwrap().is_some());
}
