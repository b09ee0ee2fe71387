//! The address book: peers met before are found again after a restart.

use crate::kit::{self, Net, connected, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restarted_without_bootstrap_addresses_reconnects_to_peers_from_its_address_book() {
    let hub = kit::node(Net::Tcp, None, |_| {}).await;
    let hub_addr = kit::address(&hub).await;
    let neighbour = kit::node(Net::Tcp, None, |c| c.bootstrap = vec![hub_addr.clone()]).await;
    let mut node = kit::node(Net::Tcp, None, |c| c.bootstrap = vec![hub_addr.clone()]).await;
    kit::wait_connected(&node, &hub).await;
    // Through the hub, Kademlia introduces the two others to each other.
    kit::wait_connected(&node, &neighbour).await;
    wait_until("the address book to hold both peers", || async {
        [hub.peer_id(), neighbour.peer_id()]
            .iter()
            .all(|p| node.store().peer(&p.to_bytes()).unwrap().is_some())
    })
    .await;

    let peer_id = node.peer_id();
    node.stop().await;
    wait_until("the others to see it gone", || async {
        !connected(&hub, peer_id).await && !connected(&neighbour, peer_id).await
    })
    .await;

    // Back on its data directory, with no bootstrap address.
    node.resume(|c| c.bootstrap.clear()).await;
    assert_eq!(node.peer_id(), peer_id);
    kit::wait_connected(&node, &hub).await;
    kit::wait_connected(&node, &neighbour).await;

    for node in [node, hub, neighbour] {
        node.shutdown().await.unwrap();
    }
}
