//! Finding a peer's addresses through Kademlia (`NetworkHandle::find_peer`).
//!
//! Most tests use three nodes: B, C bootstrapped to B, and a client A that
//! listens nowhere and knows only B. As A is in no routing table (it gives no
//! listen address), no query of B or C ever reaches A: A can only learn of C
//! through its own lookups.

use std::time::Duration;

use swapmesh_net::{Keypair, Multiaddr, NetworkConfig, PeerId, Protocol};

use crate::support::{Node, Seen, bounded, connect, stop_all};

/// The most one lookup may take here: far less than Kademlia's query timeout
/// (30 s), so a lookup that only ends by timing out fails the test.
const LOOKUP_BOUND: Duration = Duration::from_secs(10);

/// Asks `node` for the addresses of `peer`, within [`LOOKUP_BOUND`].
async fn find(node: &Node, peer: PeerId) -> Vec<Multiaddr> {
    tokio::time::timeout(LOOKUP_BOUND, node.handle.find_peer(peer))
        .await
        .expect("find_peer answers within the bound")
        .expect("the loop runs")
}

/// How many Kademlia lookups of closest peers `node` has finished (successful
/// or timed out), from its metrics.
async fn lookups(node: &Node) -> u64 {
    let text = node.handle.metrics_text().await.expect("metrics");
    text.lines()
        .filter(|line| {
            line.starts_with("libp2p_kad_query_result_get_closest_peers_ok_count ")
                || line.starts_with("libp2p_kad_query_result_get_closest_peers_error_total")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// B, and C bootstrapped to B; returns once B has identified C as listening
/// at its address (so C is in B's routing table).
async fn b_and_c() -> (Node, Node) {
    let mut b = Node::start().await;
    let b_addr = b.addr.clone();
    let c = Node::start_with(|config| config.discovery.bootstrap = vec![b_addr]).await;
    wait_identified(&mut b, &c).await;
    (b, c)
}

/// Waits until `node` has identified `peer` as listening at its address (and
/// given that address to Kademlia). A peer that connected before its listener
/// was up first identifies with no address, then pushes it.
async fn wait_identified(node: &mut Node, peer: &Node) {
    let id = peer.peer.to_string();
    let mut listen_address = peer.addr.clone();
    listen_address.pop(); // the `/p2p/<peer>`
    let listen_address = listen_address.to_string();
    node.wait_for("PeerIdentified with the listen address", |seen| {
        matches!(seen, Seen::Other(text)
            if text.starts_with("PeerIdentified")
                && text.contains(&id)
                && text.contains(&listen_address))
        .then_some(())
    })
    .await;
}

/// A client listening nowhere, bootstrapped to `b`.
///
/// Bootstrapped by a command rather than the configuration, just before the
/// test's own lookup: Kademlia starts its own bootstrap (which would meet
/// every peer of a three-node DHT) only 500 ms after B enters A's routing
/// table, so the lookup under test starts while A knows only B.
async fn client_of(b: &Node) -> Node {
    let a = Node::start_with(|config| config.listen_addresses.clear()).await;
    a.handle
        .bootstrap(vec![b.addr.clone()])
        .await
        .expect("bootstrap dial starts");
    a
}

/// A peer id nobody has.
fn stranger() -> PeerId {
    Keypair::generate_ed25519().public().to_peer_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_known_only_to_a_bootstrap_peer_is_found_and_reachable_afterwards() {
    bounded(async {
        let (b, mut c) = b_and_c().await;
        let mut a = client_of(&b).await;

        let found = find(&a, c.peer).await;
        assert!(found.contains(&c.addr), "{found:?} lacks {}", c.addr);
        assert_eq!(lookups(&a).await, 1, "found by a lookup");

        // Close the connection the lookup made, so the request below has to
        // dial C at the address remembered.
        assert!(a.handle.block_peer(c.peer).await.unwrap());
        a.wait_for_event(Seen::Disconnected(c.peer)).await;
        // No connection to C can open while it is blocked: a `Connected` seen
        // after this mark is a new one.
        let mark = a.mark();
        assert!(a.handle.unblock_peer(c.peer).await.unwrap());
        // Still known: answered at once, without another lookup.
        assert!(find(&a, c.peer).await.contains(&c.addr));
        assert_eq!(lookups(&a).await, 1, "no second lookup");

        let response = a
            .handle
            .send_request(Protocol::Sync, c.peer, b"hello".to_vec())
            .await
            .expect("C is reached at the address found");
        assert_eq!(response, b"re:hello");
        a.wait_for_event_since(mark, Seen::Connected(c.peer)).await;
        c.wait_for_event(Seen::Request {
            protocol: Protocol::Sync,
            peer: a.peer,
            data: b"hello".to_vec(),
        })
        .await;
        stop_all(vec![a, b, c]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_nobody_knows_is_not_found_without_an_error_and_promptly() {
    bounded(async {
        let (b, c) = b_and_c().await;
        let a = client_of(&b).await;
        assert_eq!(find(&a, stranger()).await, Vec::<Multiaddr>::new());
        assert_eq!(lookups(&a).await, 1, "a lookup ran");
        stop_all(vec![a, b, c]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_of_one_peer_share_one_query() {
    bounded(async {
        let (b, c) = b_and_c().await;
        let a = client_of(&b).await;
        let (first, second, third) = tokio::time::timeout(LOOKUP_BOUND, async {
            tokio::join!(
                a.handle.find_peer(c.peer),
                a.handle.find_peer(c.peer),
                a.handle.find_peer(c.peer),
            )
        })
        .await
        .expect("all answered within the bound");
        let first = first.expect("the loop runs");
        assert!(first.contains(&c.addr), "{first:?} lacks {}", c.addr);
        assert_eq!(second.as_ref(), Ok(&first));
        assert_eq!(third.as_ref(), Ok(&first));
        assert_eq!(lookups(&a).await, 1, "one query for three callers");
        stop_all(vec![a, b, c]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_addresses_are_answered_at_once_without_a_lookup() {
    bounded(async {
        let mut a = Node::start().await;
        let mut b = Node::start().await;
        connect(&mut a, &mut b).await;
        // A dialled B: the address of its connection.
        assert!(find(&a, b.peer).await.contains(&b.addr));
        // B was dialled by A: A's listen addresses, which identify gave B's
        // routing table.
        wait_identified(&mut b, &a).await;
        assert!(find(&b, a.peer).await.contains(&a.addr));
        // Our own id: where we listen.
        assert_eq!(find(&a, a.peer).await, vec![a.addr.clone()]);
        assert_eq!(lookups(&a).await, 0);
        assert_eq!(lookups(&b).await, 0);
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kademlia_only_dialled_connections_are_known() {
    bounded(async {
        let off = |config: &mut NetworkConfig| config.discovery.kademlia = false;
        let mut a = Node::start_with(off).await;
        let mut b = Node::start_with(off).await;
        assert_eq!(find(&a, b.peer).await, Vec::<Multiaddr>::new());
        connect(&mut a, &mut b).await;
        assert_eq!(find(&a, b.peer).await, vec![b.addr.clone()]);
        // B only has A's inbound connection, from a port A does not listen on.
        assert_eq!(find(&b, a.peer).await, Vec::<Multiaddr>::new());
        stop_all(vec![a, b]).await;
    })
    .await;
}
