//! The app's verdicts: what is forwarded, and what it costs the sender.

use swapmesh_net::scoring::GRAYLIST_THRESHOLD;

use crate::support::{Node, TOPIC, bounded, connect, line, stop_all, wait_subscribed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_rejected_by_the_middle_node_is_not_forwarded() {
    bounded(async {
        let mut nodes = line(3, TOPIC).await;
        // The test app rejects anything starting with "bad". The good message is
        // published after it on the same path: when it reaches the far end, the
        // middle node has already decided on the bad one.
        nodes[0]
            .handle
            .publish(TOPIC, b"bad record".to_vec())
            .await
            .unwrap();
        nodes[0]
            .handle
            .publish(TOPIC, b"good record".to_vec())
            .await
            .unwrap();
        nodes[1].wait_for_gossip(b"bad record").await;
        nodes[2].wait_for_gossip(b"good record").await;

        let far_end = nodes[2].gossip_seen();
        assert!(
            far_end.iter().all(|(_, data)| data != b"bad record"),
            "the rejected message reached the third node: {far_end:?}"
        );
        stop_all(nodes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_accepted_by_the_middle_node_is_forwarded() {
    bounded(async {
        let mut nodes = line(3, TOPIC).await;
        nodes[0]
            .handle
            .publish(TOPIC, b"good record".to_vec())
            .await
            .unwrap();
        let (_, topic, from) = nodes[2].wait_for_gossip(b"good record").await;
        assert_eq!(topic, TOPIC);
        assert_eq!(from, nodes[1].peer, "it came through the middle node");
        stop_all(nodes).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_of_a_peer_whose_messages_are_rejected_falls_below_graylist() {
    bounded(async {
        let mut a = Node::start().await;
        // Keep the connection-level block out of the way: this is about the
        // gossip score alone.
        let mut b = Node::start_with(|c| c.misbehaviour.block_threshold = f64::MAX).await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;
        wait_subscribed(&mut b, a.peer, TOPIC).await;

        let before = score_of(&b, a.peer).await;
        assert!(before > GRAYLIST_THRESHOLD, "starts above: {before}");
        for i in 0..3 {
            let data = format!("bad record {i}").into_bytes();
            a.handle.publish(TOPIC, data.clone()).await.unwrap();
            // The test app has reported `Reject` once this returns.
            b.wait_for_gossip(&data).await;
        }
        let after = score_of(&b, a.peer).await;
        assert!(
            after < GRAYLIST_THRESHOLD,
            "score {after} is not below the graylist threshold {GRAYLIST_THRESHOLD}"
        );
        stop_all(vec![a, b]).await;
    })
    .await;
}

async fn score_of(node: &Node, peer: swapmesh_net::PeerId) -> f64 {
    node.handle
        .peer_scores()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.peer == peer)
        .expect("peer is connected")
        .gossip
}
