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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_addresses_are_not_stored() {
    let node = kit::node(Net::Tcp, None, |_| {}).await;
    let node_addr = kit::address(&node).await;
    let bystander = kit::node(Net::Tcp, None, |_| {}).await;
    let mut bystander_addr = kit::address(&bystander).await;
    bystander_addr.pop();

    // A peer that says it also listens at the bystander's address and at a
    // port where nobody listens.
    let liar = kit::node(Net::Tcp, None, |_| {}).await;
    let mut liar_addr = kit::address(&liar).await;
    liar_addr.pop();
    let closed: swapmesh_net::Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    for claimed in [bystander_addr.clone(), closed.clone()] {
        liar.add_external_address(claimed).await.unwrap();
    }
    // It dials the node: the node only hears where it says it listens.
    liar.dial(node_addr).await.unwrap();
    kit::wait_connected(&node, &liar).await;

    // The node checks by dialling, and keeps what answered as the liar.
    wait_until("the liar's own address to be verified", || async {
        node.known_addresses(liar.peer_id()).contains(&liar_addr)
    })
    .await;
    crate::kit::settle().await;
    assert_eq!(node.known_addresses(liar.peer_id()), vec![liar_addr]);
    assert!(node.known_addresses(bystander.peer_id()).is_empty());
}
