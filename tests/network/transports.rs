//! Three nodes chained by bootstrap addresses, over TCP and over QUIC.

use swapmesh_protocol::fixtures;

use crate::kit::{self, Net, held, wait_connected, wait_until};

/// A listing published on the first of three nodes, which know each other only
/// through bootstrap addresses (the second the first, the third the second),
/// is stored by the third; every connection runs over `net`.
async fn listing_crosses_three_nodes(net: Net) {
    const CELL: &str = "u4pru";
    let first = kit::node(net, Some(CELL), |_| {}).await;
    let first_addr = kit::address(&first).await;
    let second = kit::node(net, Some(CELL), |c| c.bootstrap = vec![first_addr]).await;
    let second_addr = kit::address(&second).await;
    let third = kit::node(net, Some(CELL), |c| c.bootstrap = vec![second_addr]).await;
    wait_connected(&second, &first).await;
    wait_connected(&third, &second).await;

    let published = first
        .publish_listing(fixtures::listing("ladder"))
        .await
        .unwrap();
    let id = kit::listing_id(&first, "ladder");
    wait_until("the third node to store the listing", || async {
        held(&third, &id) == Some(published.id())
    })
    .await;

    for node in [&first, &second, &third] {
        for connection in node.connections().await.unwrap() {
            kit::assert_loopback(&connection.address);
            assert!(
                net.carries(&connection.address),
                "{:?} connection over {}",
                net,
                connection.address
            );
        }
    }
    for node in [first, second, third] {
        node.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_listing_published_on_the_first_of_three_bootstrapped_nodes_is_stored_by_the_third() {
    listing_crosses_three_nodes(Net::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_listing_published_on_the_first_of_three_bootstrapped_nodes_is_stored_by_the_third() {
    listing_crosses_three_nodes(Net::Quic).await;
}
