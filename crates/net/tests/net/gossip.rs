//! Two (or three) swarms exchanging gossip.

use sha2::{Digest, Sha256};
use swapmesh_net::{GossipConfig, MessageId, NetworkError, PublishError, config::MAX_TOPIC_BYTES};

use crate::support::{Node, Seen, TOPIC, bounded, connect, stop_all, test_config, wait_subscribed};

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
                Seen::Gossip {
                    id, topic, data: d, ..
                } if topic == TOPIC && *d == data => Some(*id),
                _ => None,
            })
            .await;
        let got_second = b
            .wait_for("the copy on the mesh topic", |s| match s {
                Seen::Gossip {
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

/// A topic name of exactly [`MAX_TOPIC_BYTES`], the longest the frame limit
/// makes room for (swapmesh's longest, `swapmesh/1/mesh/<32 chars>`, is 48).
fn longest_topic() -> String {
    let prefix = "swapmesh/1/mesh/";
    format!("{prefix}{}", "x".repeat(MAX_TOPIC_BYTES - prefix.len()))
}

/// Two nodes joined to `topic` and connected.
async fn pair_on(topic: &str) -> (Node, Node) {
    let mut a = Node::start().await;
    let mut b = Node::start().await;
    a.handle.subscribe(topic).await.unwrap();
    b.handle.subscribe(topic).await.unwrap();
    connect(&mut a, &mut b).await;
    wait_subscribed(&mut a, b.peer, topic).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_of_max_message_bytes_on_the_longest_topic_arrives_and_one_byte_more_is_refused()
{
    bounded(async {
        let max = GossipConfig::default().max_message_bytes;
        let topic = longest_topic();
        let (a, mut b) = pair_on(&topic).await;

        let largest = vec![7u8; max];
        a.handle
            .publish(topic.as_str(), largest.clone())
            .await
            .expect("a message of max_message_bytes is publishable");
        b.wait_for_gossip(&largest).await;

        assert_eq!(
            a.handle.publish(topic.as_str(), vec![7u8; max + 1]).await,
            Err(PublishError::TooLarge {
                len: max + 1,
                limit: max
            })
        );
        // A topic longer than `MAX_TOPIC_BYTES` takes its extra bytes from the data.
        let longer_topic = format!("{topic}y");
        assert_eq!(
            a.handle.publish(longer_topic, largest).await,
            Err(PublishError::TooLarge {
                len: max,
                limit: max - 1
            })
        );
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_the_largest_messages_all_arrive() {
    bounded(async {
        let max = GossipConfig::default().max_message_bytes;
        let topic = longest_topic();
        let (a, mut b) = pair_on(&topic).await;

        // Published back to back, the frames share the receiver's read buffer.
        const COUNT: u8 = 10;
        for i in 0..COUNT {
            a.handle
                .publish(topic.as_str(), vec![i; max])
                .await
                .unwrap();
        }
        for i in 0..COUNT {
            b.wait_for(&format!("largest message {i}"), |s| match s {
                Seen::Gossip { data, .. } if data.len() == max && data[0] == i => Some(()),
                _ => None,
            })
            .await;
        }
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test]
async fn a_zero_max_message_bytes_is_refused_at_build() {
    let mut config = test_config();
    config.gossip.max_message_bytes = 0;
    assert!(matches!(
        swapmesh_net::new(config),
        Err(NetworkError::InvalidConfig(_))
    ));
}
