//! Misbehaving peers are blocked, disconnected, and let back in later.

use std::time::Duration;

use swapmesh_net::{BlockReason, Misbehaviour, Protocol, UnblockReason};

use crate::support::{Node, Seen, TOPIC, bounded, connect, stop_all, wait_subscribed};

/// Blocks in these tests last this long (the test configuration).
const BLOCK: Duration = Duration::from_secs(1);
/// Slack for the time between the loop emitting an event and the app seeing it.
const SLACK: Duration = Duration::from_millis(200);

/// `b` has blocked `a` for `why`: checks the disconnection, that `a` cannot
/// come back during the block, the unblock after [`BLOCK`], and that `a` can
/// connect again afterwards.
async fn assert_blocked_then_unblocked(a: &mut Node, b: &mut Node, why: Misbehaviour) {
    let blocked_at = b
        .wait_for_event(Seen::Blocked(a.peer, BlockReason::Misbehaviour(why)))
        .await;
    b.wait_for_event(Seen::Disconnected(a.peer)).await;
    a.wait_for_event(Seen::Disconnected(b.peer)).await;

    // A dial during the block is refused by `b`.
    let during_block = b.mark();
    let _ = a.handle.dial(b.addr.clone()).await;

    let unblocked_at = b
        .wait_for_event(Seen::Unblocked(a.peer, UnblockReason::Expired))
        .await;
    assert!(
        unblocked_at.duration_since(blocked_at) + SLACK >= BLOCK,
        "unblocked after {:?}, the block is {BLOCK:?}",
        unblocked_at.duration_since(blocked_at)
    );
    let seen = b.seen();
    let unblock_index = seen
        .iter()
        .position(|s| *s == Seen::Unblocked(a.peer, UnblockReason::Expired))
        .unwrap();
    assert!(
        !seen[during_block..unblock_index].contains(&Seen::Connected(a.peer)),
        "the blocked peer connected during its block"
    );

    let after_unblock = b.mark();
    a.handle.dial(b.addr.clone()).await.unwrap();
    b.wait_for_event_since(after_unblock, Seen::Connected(a.peer))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_flooding_requests_is_blocked_disconnected_and_later_unblocked() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start_with(|c| {
            c.misbehaviour.flood.sync_requests_per_second = 0.5;
            c.misbehaviour.flood.sync_request_burst = 2.0;
        })
        .await;
        connect(&mut a, &mut b).await;
        // 2 within the burst, then each one over the rate costs 10 points.
        for i in 0..15u8 {
            let _ = a.handle.send_request(Protocol::Sync, b.peer, vec![i]).await;
        }
        assert_blocked_then_unblocked(&mut a, &mut b, Misbehaviour::Flooding).await;
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_over_the_rate_is_ignored_and_charges_nobody() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start_with(|c| {
            c.misbehaviour.flood.gossip_per_second = 0.5;
            c.misbehaviour.flood.gossip_burst = 2.0;
        })
        .await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;
        let start = b.mark();
        for i in 0..15 {
            a.handle
                .publish(TOPIC, format!("listing {i}").into_bytes())
                .await
                .unwrap();
        }
        // Gossipsub hands the app only a message's first delivery, so its
        // deliverer may be an honest forwarder: over the rate, a message is
        // ignored (not forwarded, not given to the app), and nobody charged.
        let over = |text: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix("swapmesh_gossip_over_rate_total "))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let text = b.handle.metrics_text().await.unwrap();
            if over(&text) >= 12 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(SLACK).await;
        let seen = b.seen();
        let delivered = seen[start..]
            .iter()
            .filter(|s| matches!(s, Seen::Gossip { .. }))
            .count();
        assert!(
            delivered <= 3,
            "{delivered} messages over the rate reached the app"
        );
        assert!(
            !seen[start..].iter().any(|s| matches!(
                s,
                Seen::Misbehaved(..) | Seen::Blocked(..) | Seen::Disconnected(..)
            )),
            "the deliverer was charged: {:?}",
            &seen[start..]
        );
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_sending_rejected_messages_is_blocked_disconnected_and_later_unblocked() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;
        // The test app rejects them; the third crosses the default threshold.
        for i in 0..3 {
            a.handle
                .publish(TOPIC, format!("bad record {i}").into_bytes())
                .await
                .unwrap();
        }
        assert_blocked_then_unblocked(&mut a, &mut b, Misbehaviour::InvalidRecord).await;
        stop_all(vec![a, b]).await;
    })
    .await;
}
