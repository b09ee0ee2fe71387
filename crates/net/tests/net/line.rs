//! Many hops.

use crate::support::{TOPIC, bounded, line, stop_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_crosses_ten_nodes_in_a_line() {
    bounded(async {
        let mut nodes = line(10, TOPIC).await;
        nodes[0]
            .handle
            .publish(TOPIC, b"from one end".to_vec())
            .await
            .unwrap();
        let (_, topic, from) = nodes[9].wait_for_gossip(b"from one end").await;
        assert_eq!(topic, TOPIC);
        assert_eq!(from, nodes[8].peer);
        stop_all(nodes).await;
    })
    .await;
}
