//! Metrics and Kademlia topic providers, on the memory transport.

use std::time::Duration;

use crate::support::{Node, Seen, TOPIC, bounded, connect, stop_all, wait_subscribed};

/// The value of the first sample of `metric` whose line mentions `label`.
fn sample(text: &str, metric: &str, label: &str) -> Option<u64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_text_counts_gossip_received_with_and_without_duplicates() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;
        a.handle
            .publish(TOPIC, b"a listing".to_vec())
            .await
            .unwrap();
        b.wait_for_gossip(b"a listing").await;

        let text = b.handle.metrics_text().await.unwrap();
        // Gossipsub labels its per-topic families with the topic hash, which
        // for our identity topics is the topic name itself.
        let unfiltered = sample(
            &text,
            "gossipsub_topic_msg_recv_counts_unfiltered_total",
            TOPIC,
        )
        .expect("received-including-duplicates counter");
        let filtered = sample(&text, "gossipsub_topic_msg_recv_counts_total", TOPIC)
            .expect("received counter");
        assert!(filtered >= 1 && unfiltered >= filtered, "{text}");
        // libp2p-metrics and the bandwidth counters are in the same registry.
        assert!(text.contains("libp2p_swarm_connections_established_total"));
        assert!(text.contains("libp2p_bandwidth_bytes_total"));
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_topic_find_and_dial_each_other_as_kademlia_providers() {
    bounded(async {
        let fast = |c: &mut swapmesh_net::NetworkConfig| {
            c.discovery.provider_lookup_interval = Duration::from_millis(300);
            c.discovery.provider_announce_interval = Duration::from_millis(600);
        };
        let hub = Node::start_with(fast).await;
        let with_hub = |c: &mut swapmesh_net::NetworkConfig| {
            fast(c);
            c.discovery.bootstrap = vec![hub.addr.clone()];
        };
        let mut x = Node::start_with(with_hub).await;
        let mut y = Node::start_with(with_hub).await;
        x.handle.subscribe(TOPIC).await.unwrap();
        y.handle.subscribe(TOPIC).await.unwrap();
        // Neither dialled the other: only the hub's DHT introduces them.
        let y_id = y.peer.to_string();
        loop {
            let found = x.seen().iter().any(|s| {
                matches!(s, Seen::Other(text)
                    if text.contains("TopicProvider") && text.contains(&y_id))
            });
            if found {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        x.wait_for_event(Seen::Connected(y.peer)).await;
        y.wait_for_event(Seen::Connected(x.peer)).await;
        stop_all(vec![hub, x, y]).await;
    })
    .await;
}
