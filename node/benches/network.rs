//! Time from a node's start to the first listing it receives from a peer, over
//! TCP and over QUIC, measured in one run and reported as a ratio (DESIGN §9:
//! these machines are noisy, so only ratios within a run are compared).
//!
//! Each round starts a publisher that already holds a listing (published before
//! any peer joined its topic, so it is kept and sent when the first peer
//! joins), then starts a fresh node with the publisher as its only bootstrap
//! address, and measures from the call to `Node::start` until the listing is in
//! the new node's store (polled every millisecond). That covers opening the
//! store, building the swarm, dialling, the transport handshake (TCP + noise +
//! yamux, or QUIC's TLS 1.3), identify, the gossipsub subscription exchange,
//! the publish and the ingest. Rounds alternate which transport goes first.
//! Everything runs on 127.0.0.1 with mDNS off.
//!
//! Run with `cargo bench -p swapmesh-node --bench network`;
//! `SWAPMESH_BENCH_ROUNDS` sets the rounds per transport (default 15).

use std::time::{Duration, Instant};

use swapmesh_net::{Multiaddr, Transport, multiaddr::Protocol};
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::{Geohash, ListingId, fixtures};

const CELL: &str = "u4pru";
const LIMIT: Duration = Duration::from_secs(30);

fn config(dir: &std::path::Path, transport: Transport) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.transport = transport;
    config.listen = vec![
        match transport {
            Transport::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
            _ => "/ip4/127.0.0.1/tcp/0",
        }
        .parse()
        .expect("a valid multiaddr"),
    ];
    config.area = Geohash::parse_area(CELL);
    config.mdns = false;
    config
}

async fn listen_address(node: &Node) -> Multiaddr {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(a) = node.listen_addresses().await.expect("running").first() {
            return a.clone().with(Protocol::P2p(node.peer_id()));
        }
        assert!(Instant::now() < deadline, "no listen address");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One round: the time from starting a node to holding the publisher's listing.
async fn round(transport: Transport) -> Duration {
    let publisher_dir = tempfile::tempdir().expect("temp dir");
    let publisher = Node::start(config(publisher_dir.path(), transport))
        .await
        .expect("publisher starts");
    let published = publisher
        .publish_listing(fixtures::listing("drill"))
        .await
        .expect("publish");
    let bootstrap = listen_address(&publisher).await;
    let id = ListingId {
        author: publisher.author(),
        d: "drill".to_owned(),
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(dir.path(), transport);
    config.bootstrap = vec![bootstrap];
    let start = Instant::now();
    let node = Node::start(config).await.expect("node starts");
    loop {
        if node.listing(&id).expect("store").map(|r| r.id) == Some(published.id()) {
            break;
        }
        assert!(start.elapsed() < LIMIT, "{transport:?}: no listing");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = start.elapsed();
    node.shutdown().await.expect("shutdown");
    publisher.shutdown().await.expect("shutdown");
    elapsed
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let rounds: usize = std::env::var("SWAPMESH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (mut tcp, mut quic) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        // One untimed round each: warm the page cache and the allocator.
        round(Transport::Tcp).await;
        round(Transport::Quic).await;
        for n in 0..rounds {
            if n % 2 == 0 {
                tcp.push(round(Transport::Tcp).await);
                quic.push(round(Transport::Quic).await);
            } else {
                quic.push(round(Transport::Quic).await);
                tcp.push(round(Transport::Tcp).await);
            }
        }
    });
    let (tcp_min, tcp_max) = (*tcp.iter().min().unwrap(), *tcp.iter().max().unwrap());
    let (quic_min, quic_max) = (*quic.iter().min().unwrap(), *quic.iter().max().unwrap());
    let (tcp_median, quic_median) = (median(&mut tcp), median(&mut quic));
    println!("start to first listing from a peer, {rounds} rounds per transport, 127.0.0.1:");
    println!(
        "  tcp : median {:7.1} ms  (min {:.1}, max {:.1})",
        ms(tcp_median),
        ms(tcp_min),
        ms(tcp_max)
    );
    println!(
        "  quic: median {:7.1} ms  (min {:.1}, max {:.1})",
        ms(quic_median),
        ms(quic_min),
        ms(quic_max)
    );
    println!(
        "  ratio quic / tcp (medians): {:.2}",
        ms(quic_median) / ms(tcp_median)
    );
}
