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
