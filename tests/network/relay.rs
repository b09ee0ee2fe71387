//! A home server relays for neighbours that cannot be reached directly.

use std::time::Duration;

use swapmesh_net::{Multiaddr, multiaddr::Protocol};
use swapmesh_node::{Node, NodeEvent, Role};
use swapmesh_protocol::fixtures;

use crate::kit::{self, Net, Recorder, held, wait_until};

const CELL: &str = "u4pru";
/// libp2p's default circuit byte limit, which our server raises.
const DEFAULT_CIRCUIT_BYTES: u64 = 128 * 1024;

/// The address `node` listens on through the relay, once its reservation holds.
async fn relayed_address(node: &Node) -> Multiaddr {
    wait_until("a relayed listen address", || async {
        node.listen_addresses()
            .await
            .unwrap_or_default()
            .iter()
            .any(|a| a.iter().any(|p| p == Protocol::P2pCircuit))
    })
    .await;
    let addresses = node.listen_addresses().await.unwrap();
    assert!(
        addresses
            .iter()
            .all(|a| a.iter().any(|p| p == Protocol::P2pCircuit)),
        "the node listens on a direct address: {addresses:?}"
    );
    addresses[0].clone().with(Protocol::P2p(node.peer_id()))
}

/// Bytes `node` received over relayed connections, from its bandwidth metrics.
///
/// The metrics label a connection with the protocols of its remote address. One
/// this node dialled through a relay has `…/p2p-circuit/p2p`; one it accepted
/// through its own reservation has the send-back address libp2p-relay gives it,
/// `/p2p/<peer>`, labelled `/p2p` (no direct connection has that label). Which
/// of the two carries the listings depends on which neighbour dialled first
/// (both find each other as topic providers), so both count.
async fn relayed_bytes_in(node: &Node) -> u64 {
    let text = node.metrics_text().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("libp2p_bandwidth_bytes_total{"))
        .filter(|l| l.contains("direction=\"Inbound\""))
        .filter(|l| l.contains("p2p-circuit") || l.contains("protocols=\"/p2p\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_reachable_only_through_a_relay_receives_listings_over_the_circuit_past_128_kib() {
    // The home server: relay and AutoNAT server, its address announced.
    let server = kit::node(Net::Tcp, None, |c| c.set_role(Role::Server)).await;
    let server_addr = kit::address(&server).await;
    let mut direct = server_addr.clone();
    direct.pop();
    server.add_external_address(direct).await.unwrap();
    let circuit = server_addr.clone().with(Protocol::P2pCircuit);

    // Two neighbours behind "NAT": they listen only through the relay and do
    // not hole-punch, so whatever connects them goes through the circuit.
    let behind_nat = |c: &mut swapmesh_node::NodeConfig| {
        c.listen = vec![circuit.clone()];
        c.bootstrap = vec![server_addr.clone()];
        c.nat.dcutr = false;
    };
    let publisher = kit::node(Net::Tcp, Some(CELL), behind_nat).await;
    let receiver = kit::node(Net::Tcp, Some(CELL), behind_nat).await;
    let mut receiver_events = Recorder::new(&receiver);
    let receiver_addr = relayed_address(&receiver).await;
    relayed_address(&publisher).await;
    publisher.dial(receiver_addr).await.unwrap();
    kit::wait_connected(&publisher, &receiver).await;
    assert!(
        receiver
            .network()
            .is_relayed(publisher.peer_id())
            .await
            .unwrap(),
        "the connection is not relayed"
    );

    let first = publisher
        .publish_listing(fixtures::listing("first"))
        .await
        .unwrap();
    let first_id = kit::listing_id(&publisher, "first");
    wait_until("the first listing over the circuit", || async {
        held(&receiver, &first_id) == Some(first.id())
    })
    .await;

    // About 8 KiB a listing: well over 128 KiB across the circuit.
    let mut big = Vec::new();
    for n in 0..24 {
        let mut listing = fixtures::listing(&format!("big{n}"));
        listing.description = format!("{n} ").repeat(8000 / (n.to_string().len() + 1));
        let version = publisher.publish_listing(listing).await.unwrap();
        big.push((
            kit::listing_id(&publisher, &format!("big{n}")),
            version.id(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Gossip keeps no order: wait for every one of them, not only the last sent.
    wait_until("all 24 big listings over the circuit", || async {
        big.iter()
            .all(|(id, version)| held(&receiver, id) == Some(*version))
    })
    .await;
    let crossed = relayed_bytes_in(&receiver).await;
    assert!(
        crossed > DEFAULT_CIRCUIT_BYTES,
        "only {crossed} bytes crossed the circuit"
    );

    // Past libp2p's default limit, the circuit still carries listings.
    let after = publisher
        .publish_listing(fixtures::listing("after"))
        .await
        .unwrap();
    let after_id = kit::listing_id(&publisher, "after");
    wait_until("a listing after 128 KiB", || async {
        held(&receiver, &after_id) == Some(after.id())
    })
    .await;
    assert!(
        receiver
            .network()
            .is_relayed(publisher.peer_id())
            .await
            .unwrap(),
        "the connection is no longer relayed"
    );
    let dropped = receiver_events
        .seen()
        .iter()
        .any(|e| matches!(e, NodeEvent::PeerDown { peer } if *peer == publisher.peer_id()));
    assert!(!dropped, "the relayed connection was cut on the way");

    for node in [publisher, receiver, server] {
        node.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_without_a_direct_address_listens_through_a_relay_by_itself() {
    let server = kit::node(Net::Tcp, None, |c| c.set_role(Role::Server)).await;
    let server_addr = kit::address(&server).await;
    let mut direct = server_addr.clone();
    direct.pop();
    server.add_external_address(direct).await.unwrap();
    let server_reach = server.reachability().await.unwrap();
    assert!(
        matches!(server_reach, swapmesh_net::Reachability::Direct { .. }),
        "{server_reach:?}"
    );

    // A personal node that nobody confirms (no AutoNAT): only a bootstrap
    // address, no circuit named anywhere.
    let home = kit::node(Net::Tcp, Some(CELL), |c| {
        c.bootstrap = vec![server_addr.clone()];
        c.nat.autonat_client = false;
    })
    .await;
    wait_until("a reservation on the server", || async {
        matches!(
            home.reachability().await,
            Ok(swapmesh_net::Reachability::Relayed { ref relays, .. }) if relays == &[server.peer_id()]
        )
    })
    .await;
    let swapmesh_net::Reachability::Relayed { addresses, .. } = home.reachability().await.unwrap()
    else {
        unreachable!("relayed");
    };
    assert!(
        addresses
            .iter()
            .all(|a| a.iter().any(|p| p == Protocol::P2pCircuit)),
        "{addresses:?}"
    );
    let text = home.metrics_text().await.unwrap();
    assert!(text.contains("swapmesh_relay_reservations 1"), "{text}");

    // A confirmed direct address: the relay is let go.
    let own = home
        .listen_addresses()
        .await
        .unwrap()
        .into_iter()
        .find(|a| !a.iter().any(|p| p == Protocol::P2pCircuit))
        .expect("a direct listen address");
    home.add_external_address(own).await.unwrap();
    wait_until("the relay let go", || async {
        matches!(
            home.reachability().await,
            Ok(swapmesh_net::Reachability::Direct { .. })
        ) && !home
            .listen_addresses()
            .await
            .unwrap_or_default()
            .iter()
            .any(|a| a.iter().any(|p| p == Protocol::P2pCircuit))
    })
    .await;
}
