//! The door counts inbound connections by where they come from: by IP for
//! direct ones (a blocked peer's IP stays charged), by relay for circuits, and
//! keeps slots for our own dials. Real sockets on loopback: the attacker's QUIC
//! socket is bound to 127.0.0.2, so its packets come from there, while honest
//! nodes use 127.0.0.1.

use std::time::Duration;

use swapmesh_net::{
    BlockReason, Misbehaviour, Multiaddr, NetworkConfig, Protocol, ServerConfig, Transport,
    multiaddr::Protocol as AddrProtocol,
};

use crate::support::{Node, Seen, WAIT_TIMEOUT, bounded, connect, stop_all};

/// `config` on QUIC, listening on `ip` only (so it also dials from `ip`).
fn quic_on(config: &mut NetworkConfig, ip: &str) {
    config.transport = Transport::Quic;
    config.listen_addresses = vec![format!("/ip4/{ip}/udp/0/quic-v1").parse().unwrap()];
}

/// `config` on TCP on 127.0.0.1, with no NAT traversal or Kademlia to open
/// connections of their own.
fn tcp_quiet(config: &mut NetworkConfig) {
    config.transport = Transport::Tcp;
    config.listen_addresses = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    config.discovery.kademlia = false;
    config.nat.dcutr = false;
    config.nat.autonat_client = false;
    config.nat.auto_relay = false;
}

/// Connections `node` refused at the door for `reason`.
async fn refused(node: &Node, reason: &str) -> u64 {
    let text = node.handle.metrics_text().await.unwrap();
    let prefix = format!("swapmesh_connections_refused_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Waits until `node` has refused `count` connections for `reason`.
async fn wait_refused(node: &Node, reason: &str, count: u64) {
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    while refused(node, reason).await < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {count} refusals for {reason}: {}",
            node.handle.metrics_text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_ids_from_one_ip_do_not_get_fresh_budgets() {
    bounded(async {
        let mut victim = Node::start_with(|c| {
            quic_on(c, "127.0.0.1");
            c.connection_limits.max_per_ip = 2;
            c.misbehaviour.block_duration = Duration::from_secs(600);
            c.misbehaviour.flood.sync_requests_per_second = 0.5;
            c.misbehaviour.flood.sync_request_burst = 2.0;
        })
        .await;

        // Two ids from 127.0.0.2 flood, are blocked, and leave.
        let mut blocked = Vec::new();
        for _ in 0..2 {
            let mut attacker = Node::start_with(|c| quic_on(c, "127.0.0.2")).await;
            connect(&mut attacker, &mut victim).await;
            for i in 0..15u8 {
                let _ = attacker
                    .handle
                    .send_request(Protocol::Sync, victim.peer, vec![i])
                    .await;
            }
            let why = BlockReason::Misbehaviour(Misbehaviour::Flooding);
            victim
                .wait_for_event(Seen::Blocked(attacker.peer, why))
                .await;
            victim
                .wait_for_event(Seen::Disconnected(attacker.peer))
                .await;
            blocked.push(attacker.peer);
            attacker.stop().await;
        }

        // A third fresh id from the same IP finds both slots still charged.
        let mut fresh = Node::start_with(|c| quic_on(c, "127.0.0.2")).await;
        fresh.handle.dial(victim.addr.clone()).await.unwrap();
        wait_refused(&victim, "per_ip", 1).await;
        let connected = victim.handle.connected_peers().await.unwrap();
        assert!(!connected.contains(&fresh.peer), "{connected:?}");

        // Honest neighbours from 127.0.0.1 keep connecting, up to their own budget.
        let mut honest = Vec::new();
        for _ in 0..2 {
            let mut neighbour = Node::start_with(|c| quic_on(c, "127.0.0.1")).await;
            connect(&mut neighbour, &mut victim).await;
            honest.push(neighbour);
        }

        // A block that ends frees its IP slot.
        assert!(victim.handle.unblock_peer(blocked[0]).await.unwrap());
        connect(&mut fresh, &mut victim).await;

        honest.extend([fresh, victim]);
        stop_all(honest).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_peers_count_per_relay_not_per_ip() {
    bounded(async {
        let relay = Node::start_with(|c| {
            tcp_quiet(c);
            c.server = Some(ServerConfig::default());
        })
        .await;
        let mut direct = relay.addr.clone();
        direct.pop();
        relay.handle.add_external_address(direct).await.unwrap();

        let mut target = Node::start_with(|c| {
            tcp_quiet(c);
            c.connection_limits.max_per_ip = 2;
            c.connection_limits.max_per_relay = 3;
        })
        .await;
        let circuit = relay.addr.clone().with(AddrProtocol::P2pCircuit);
        target.handle.listen_on(circuit).await.unwrap();
        let through_relay: Multiaddr = target
            .wait_for("a relayed listen address", |seen| match seen {
                Seen::ListenAddr(a) if a.iter().any(|p| p == AddrProtocol::P2pCircuit) => {
                    Some(a.clone())
                }
                _ => None,
            })
            .await
            .with_p2p(target.peer)
            .unwrap();

        // Three peers through the relay: all of them come from the relay's IP,
        // more than the per-IP limit, and all get in.
        let mut peers = Vec::new();
        for _ in 0..3 {
            let mut peer = Node::start_with(tcp_quiet).await;
            peer.handle.dial(through_relay.clone()).await.unwrap();
            peer.wait_for_event(Seen::Connected(target.peer)).await;
            target.wait_for_event(Seen::Connected(peer.peer)).await;
            peers.push(peer);
        }
        // A fourth is one circuit too many for that relay.
        let fourth = Node::start_with(tcp_quiet).await;
        fourth.handle.dial(through_relay.clone()).await.unwrap();
        wait_refused(&target, "per_relay", 1).await;
        assert_eq!(refused(&target, "per_ip").await, 0);

        // The circuits did not use up 127.0.0.1's budget for direct peers.
        for _ in 0..2 {
            let mut neighbour = Node::start_with(tcp_quiet).await;
            connect(&mut neighbour, &mut target).await;
            peers.push(neighbour);
        }
        let connected = target.handle.connected_peers().await.unwrap();
        assert!(!connected.contains(&fourth.peer), "{connected:?}");
        assert!(
            target.handle.is_relayed(peers[0].peer).await.unwrap(),
            "the first peer is not relayed"
        );

        peers.extend([fourth, target, relay]);
        stop_all(peers).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_slots_remain_under_inbound_flood() {
    bounded(async {
        // 6 connections in all, 2 of them kept for our own dials.
        let mut victim = Node::start_with(|c| {
            c.connection_limits.max_established = 6;
            c.connection_limits.outbound_reserve = 2;
        })
        .await;
        let mut flood = Vec::new();
        for _ in 0..8 {
            let stranger = Node::start().await;
            stranger.handle.dial(victim.addr.clone()).await.unwrap();
            flood.push(stranger);
        }
        wait_refused(&victim, "inbound", 4).await;
        let connected = victim.handle.connected_peers().await.unwrap();
        assert_eq!(connected.len(), 4, "{connected:?}");

        // Our own dial still finds a slot.
        let mut wanted = Node::start().await;
        connect(&mut victim, &mut wanted).await;

        flood.extend([wanted, victim]);
        stop_all(flood).await;
    })
    .await;
}
