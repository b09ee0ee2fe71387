//! Two (or three) swarms exchanging gossip.

use sha2::{Digest, Sha256};
use swapmesh_net::MessageId;

use crate::support::{Node, TOPIC, bounded, connect, stop_all, wait_subscribed};

/// sha256(topic ‖ 0x00 ‖ data), computed independently of the crate.
fn expected_id(topic: &str, data: &[u8]) -> MessageId {
    let mut h = Sha256::new();
    h.update(topic.as_bytes());
    h.update([0]);
    h.update(data);
    MessageId(h.finalize().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_message_arrives_with_its_topic_and_content_id() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;

        let data = b"a listing".to_vec();
        let published = a.handle.publish(TOPIC, data.clone()).await.unwrap();
        let (id, topic, from) = b.wait_for_gossip(&data).await;

        assert_eq!(topic, TOPIC);
        assert_eq!(id, expected_id(TOPIC, &data));
        assert_eq!(published, id);
        assert_eq!(from, a.peer);
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_bytes_on_two_topics_arrive_on_both() {
    bounded(async {
        let other = "swapmesh/1/mesh/local";
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        for node in [&a, &b] {
            node.handle.subscribe(TOPIC).await.unwrap();
            node.handle.subscribe(other).await.unwrap();
        }
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;
        wait_subscribed(&mut a, b.peer, other).await;

        let data = b"one record, two topics".to_vec();
        let first = a.handle.publish(TOPIC, data.clone()).await.unwrap();
        let second = a.handle.publish(other, data.clone()).await.unwrap();
        assert_ne!(first, second, "the id depends on the topic");

        let got_first = b
            .wait_for("the copy on the area topic", |s| match s {
                crate::support::Seen::Gossip {
                    id, topic, data: d, ..
                } if topic == TOPIC && *d == data => Some(*id),
                _ => None,
            })
            .await;
        let got_second = b
            .wait_for("the copy on the mesh topic", |s| match s {
                crate::support::Seen::Gossip {
                    id, topic, data: d, ..
                } if topic == other && *d == data => Some(*id),
                _ => None,
            })
            .await;
        assert_eq!(got_first, expected_id(TOPIC, &data));
        assert_eq!(got_second, expected_id(other, &data));
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_on_a_topic_the_receiver_did_not_join_is_not_delivered() {
    bounded(async {
        let joined = TOPIC;
        let not_joined = "swapmesh/1/area/u4prv";
        // `a` is a hub; `b` joins both topics, `c` only the first.
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        let mut c = Node::start().await;
        for topic in [joined, not_joined] {
            a.handle.subscribe(topic).await.unwrap();
            b.handle.subscribe(topic).await.unwrap();
        }
        c.handle.subscribe(joined).await.unwrap();
        connect(&mut a, &mut b).await;
        connect(&mut a, &mut c).await;
        wait_subscribed(&mut a, b.peer, joined).await;
        wait_subscribed(&mut a, b.peer, not_joined).await;
        wait_subscribed(&mut a, c.peer, joined).await;

        // The message on the unjoined topic goes first; `c` receiving the second
        // message shows the first had every chance to arrive.
        a.handle
            .publish(not_joined, b"elsewhere".to_vec())
            .await
            .unwrap();
        a.handle.publish(joined, b"here".to_vec()).await.unwrap();
        b.wait_for_gossip(b"elsewhere").await;
        b.wait_for_gossip(b"here").await;
        c.wait_for_gossip(b"here").await;

        assert_eq!(
            c.gossip_seen(),
            vec![(joined.to_owned(), b"here".to_vec())],
            "c must see only the message on the topic it joined"
        );
        stop_all(vec![a, b, c]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn largest_record_fits_in_a_gossip_message_and_more_is_refused() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        a.handle.subscribe(TOPIC).await.unwrap();
        b.handle.subscribe(TOPIC).await.unwrap();
        connect(&mut a, &mut b).await;
        wait_subscribed(&mut a, b.peer, TOPIC).await;

        // A 32 KiB body, a 64-byte signature and a few bytes of encoding.
        let largest_record = vec![7u8; 32 * 1024 + 64 + 16];
        a.handle
            .publish(TOPIC, largest_record.clone())
            .await
            .expect("the largest record is publishable");
        b.wait_for_gossip(&largest_record).await;

        let too_large = vec![7u8; 34 * 1024];
        assert!(matches!(
            a.handle.publish(TOPIC, too_large).await,
            Err(swapmesh_net::PublishError::TooLarge { .. })
        ));
        stop_all(vec![a, b]).await;
    })
    .await;
}
