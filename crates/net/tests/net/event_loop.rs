//! The event loop itself: back-pressure and shutdown.

use std::time::Duration;

use swapmesh_net::{NetworkError, NetworkEvent, PublishError};

use crate::support::{Node, Seen, TOPIC, bounded, connect, test_config, wait_subscribed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_event_channel_holds_events_back_without_losing_them_or_blocking_commands() {
    bounded(async {
        let mut config = test_config();
        config.event_channel_capacity = 2;
        let (b, mut events, event_loop) = swapmesh_net::new(config).unwrap();
        tokio::spawn(event_loop.run());
        let address = loop {
            if let Some(NetworkEvent::NewListenAddr { address }) = events.recv().await {
                break address;
            }
        };
        b.subscribe(TOPIC).await.unwrap();

        let mut a = Node::start().await;
        a.handle.subscribe(TOPIC).await.unwrap();
        a.handle
            .dial(address.with_p2p(b.local_peer_id()).unwrap())
            .await
            .unwrap();
        wait_subscribed(&mut a, b.local_peer_id(), TOPIC).await;
        const COUNT: usize = 20;
        for i in 0..COUNT {
            a.handle
                .publish(TOPIC, format!("listing {i}").into_bytes())
                .await
                .unwrap();
        }

        // Nobody has read `b`'s events since the listen address: its channel is
        // full, yet it still answers commands.
        let peers = tokio::time::timeout(Duration::from_secs(5), b.connected_peers())
            .await
            .expect("commands are served while events wait")
            .unwrap();
        assert_eq!(peers, vec![a.peer]);

        // Now read: every message arrives, in order.
        let mut received = Vec::new();
        while received.len() < COUNT {
            match events.recv().await.expect("loop alive") {
                NetworkEvent::Gossip { data, .. } => received.push(data),
                _ => continue,
            }
        }
        let expected: Vec<Vec<u8>> = (0..COUNT)
            .map(|i| format!("listing {i}").into_bytes())
            .collect();
        assert_eq!(received, expected);
        b.shutdown().await;
        a.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_loop_closes_connections_and_later_calls_fail() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        connect(&mut a, &mut b).await;
        let handle = a.handle.clone();
        let a_peer = a.peer;
        a.stop().await; // shutdown + the loop's task has ended
        b.wait_for_event(Seen::Disconnected(a_peer)).await;
        assert_eq!(handle.connected_peers().await, Err(NetworkError::Stopped));
        assert_eq!(
            handle.publish(TOPIC, b"late".to_vec()).await,
            Err(PublishError::Stopped)
        );
        handle.shutdown().await; // a second shutdown returns at once
        b.stop().await;
    })
    .await;
}
