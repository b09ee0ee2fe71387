//! A city in one process (issue 27): whole nodes on the memory transport, each
//! with its own sled store, placed in the cells of a square block of
//! five-character geohash cells, started from a few server-role nodes as
//! their bootstrap peers and left to find the rest as the real discovery does
//! (Kademlia topic providers). Shared by the `city` test and the `city` bench.

// Shared by the `city` test and bench: each uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_node::{Node, NodeConfig, Role};
use swapmesh_protocol::{Geohash, ListingId, RecordId, Topic};

/// The cell at the block's south-west corner.
const CORNER: &str = "u4pru";

/// The size of a city.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Nodes in all, servers included.
    pub(crate) nodes: usize,
    /// Cells in all: a square number (a `side` × `side` block).
    pub(crate) cells: usize,
    /// Server-role nodes, the bootstrap peers of the others.
    pub(crate) servers: usize,
    /// The seed of placement and workload.
    pub(crate) seed: u64,
    /// The gossip heartbeat.
    pub(crate) heartbeat: Duration,
}

impl Plan {
    /// The plan from `SWAPMESH_CITY_NODES`, `…_CELLS`, `…_SEED`, else `default`.
    pub(crate) fn from_env(default: Plan) -> Result<Plan, String> {
        let var = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a whole number")),
                Err(_) => Ok(default),
            }
        };
        let plan = Plan {
            nodes: var("SWAPMESH_CITY_NODES", default.nodes as u64)? as usize,
            cells: var("SWAPMESH_CITY_CELLS", default.cells as u64)? as usize,
            seed: var("SWAPMESH_CITY_SEED", default.seed)?,
            ..default
        };
        plan.check()?;
        Ok(plan)
    }

    /// Refuses a city it cannot place.
    pub(crate) fn check(&self) -> Result<(), String> {
        let side = self.side();
        if side * side != self.cells || self.cells == 0 {
            return Err(format!(
                "{} cells do not make a square block: use 1, 4, 9, …, 100",
                self.cells
            ));
        }
        if self.cells > self.nodes {
            return Err(format!(
                "{} cells need at least as many nodes, not {}",
                self.cells, self.nodes
            ));
        }
        if self.servers == 0 || self.servers >= self.nodes {
            return Err(format!(
                "{} servers among {} nodes: at least one, and fewer than the nodes",
                self.servers, self.nodes
            ));
        }
        Ok(())
    }

    /// The block's side, in cells.
    pub(crate) fn side(&self) -> usize {
        (self.cells as f64).sqrt().round() as usize
    }
}

/// The `side` × `side` block of cells from [`CORNER`], row by row from the
/// south-west: cell `row * side + col`.
pub(crate) fn block(side: usize) -> Vec<Geohash> {
    // `neighbours` lists (dx, dy) from (-1, -1) to (1, 1) without (0, 0):
    // east is (1, 0), north is (0, 1).
    let east = |g: &Geohash| g.neighbours()[4].clone();
    let north = |g: &Geohash| g.neighbours()[6].clone();
    let mut cells = Vec::with_capacity(side * side);
    let mut row_start = Geohash::parse_cell(CORNER).expect("a cell");
    for _ in 0..side {
        let mut cell = row_start.clone();
        for _ in 0..side {
            cells.push(cell.clone());
            cell = east(&cell);
        }
        row_start = north(&row_start);
    }
    cells
}

/// A running city.
pub(crate) struct City {
    /// The nodes; the first `plan.servers` are the servers.
    pub(crate) nodes: Vec<Node>,
    /// The cell of each node.
    pub(crate) cell_of: Vec<Geohash>,
    /// The block.
    pub(crate) cells: Vec<Geohash>,
    /// The plan.
    pub(crate) plan: Plan,
    _dirs: Vec<tempfile::TempDir>,
}

/// Memory ports for city nodes: one fixed port each, so it can be announced.
static NEXT_PORT: AtomicU64 = AtomicU64::new(1 << 48);

fn config(dir: &std::path::Path, cell: &Geohash, plan: &Plan) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = Some(cell.clone());
    // Its listen address is its confirmed external address, as AutoNAT would
    // confirm a reachable node's on a real network: Kademlia puts it in the
    // node's provider records, so a neighbour that finds the record can dial
    // the node without knowing it from elsewhere.
    let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
    let address: swapmesh_net::Multiaddr = format!("/memory/{port}").parse().expect("an address");
    config.listen = vec![address.clone()];
    config.external_addresses = vec![address];
    config.mdns = false;
    config.gossip.heartbeat_interval = std::env::var("CITY_HEARTBEAT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(plan.heartbeat, Duration::from_millis);
    config.store.cache_capacity = 1024 * 1024;
    // `SWAPMESH_FAULT=no-area-filter` shows the test can fail.
    config.faults = swapmesh_node::Faults::from_env();
    // The memory transport has no NAT, and AutoNAT on it would confirm the
    // port a node dialled from, which nobody listens on: peers would dial it,
    // fail, drop the node from Kademlia and re-bootstrap when it comes back.
    config.nat.autonat_client = false;
    // Discovery as a real node runs it (a lookup a minute, an announcement
    // every ten), unless `CITY_LOOKUP` / `CITY_ANNOUNCE` (seconds) say otherwise.
    let secs = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
    };
    if let Some(every) = secs("CITY_LOOKUP") {
        config.discovery.provider_lookup_interval = every;
    }
    if let Some(every) = secs("CITY_ANNOUNCE") {
        config.discovery.provider_announce_interval = every;
    }
    if std::env::var("CITY_NO_SYNC").is_ok() {
        config.sync_on_connect = false;
    }
    config
}

/// `node`'s first listen address with its peer id, once it listens.
pub(crate) async fn address_of(node: &Node) -> swapmesh_net::Multiaddr {
    for _ in 0..200 {
        if let Some(address) = node
            .network()
            .listen_addresses()
            .await
            .unwrap_or_default()
            .into_iter()
            .next()
        {
            return address.with(swapmesh_net::multiaddr::Protocol::P2p(node.peer_id()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("a city node never listened");
}

impl City {
    /// Starts the city of `plan`: the servers first (in cells spread over the
    /// block), then every other node in a seeded cell, each bootstrapping
    /// from one server. Every cell gets at least one node.
    pub(crate) async fn start(plan: Plan) -> City {
        plan.check().expect("a city that can be placed");
        let mut rng = StdRng::seed_from_u64(plan.seed);
        let cells = block(plan.side());
        let mut placement: Vec<Geohash> = cells.clone();
        while placement.len() < plan.nodes {
            placement.push(cells[rng.gen_range(0..cells.len())].clone());
        }
        placement.shuffle(&mut rng);
        let mut nodes = Vec::with_capacity(plan.nodes);
        let mut dirs = Vec::with_capacity(plan.nodes);
        let mut bootstrap = Vec::new();
        for (i, cell) in placement.iter().enumerate() {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut config = config(dir.path(), cell, &plan);
            if i < plan.servers {
                config.set_role(Role::Server);
                config.bootstrap = bootstrap.clone();
            } else {
                config.bootstrap = vec![bootstrap[i % plan.servers].clone()];
            }
            config.discovery.bootstrap = config.bootstrap.clone();
            let began = Instant::now();
            let node = Node::start(config).await.expect("a city node starts");
            if std::env::var("CITY_TRACE").is_ok() {
                eprintln!("node {i} started in {:?}", began.elapsed());
            }
            if i < plan.servers {
                bootstrap.push(address_of(&node).await);
            }
            nodes.push(node);
            dirs.push(dir);
        }
        City {
            nodes,
            cell_of: placement,
            cells,
            plan,
            _dirs: dirs,
        }
    }

    /// The topics node `i` listens to (its cell and the neighbours).
    pub(crate) fn topics_of(&self, i: usize) -> BTreeSet<Topic> {
        self.cell_of[i]
            .with_neighbours()
            .iter()
            .map(Topic::area)
            .collect()
    }

    /// Waits until every node has a gossip mesh peer on each of its topics
    /// that carries listings (a node of the city lives in its cell) and that
    /// another node listens to, within `timeout`; the nodes and topics that
    /// have not, if any. A (node, topic) found settled is not asked again.
    ///
    /// The cells around the block have listeners (the nodes on its edge) but
    /// nobody publishes there, and nobody provides them in Kademlia: a mesh
    /// on them would carry nothing, so none is awaited.
    pub(crate) async fn settle(&self, timeout: Duration) -> Result<(), Vec<(usize, Topic)>> {
        let members: Vec<BTreeSet<Topic>> =
            (0..self.nodes.len()).map(|i| self.topics_of(i)).collect();
        let lived_in: BTreeSet<Topic> = self.cell_of.iter().map(Topic::area).collect();
        let mut waiting: Vec<(usize, Topic)> = Vec::new();
        for (i, topics) in members.iter().enumerate() {
            for topic in topics.iter().filter(|t| lived_in.contains(*t)) {
                let shared = members
                    .iter()
                    .enumerate()
                    .any(|(j, t)| j != i && t.contains(topic));
                if shared {
                    waiting.push((i, topic.clone()));
                }
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let mut still = Vec::new();
            for (i, topic) in waiting {
                let peers = self.nodes[i]
                    .network()
                    .mesh_peers(topic.as_str())
                    .await
                    .unwrap_or_default();
                if peers.is_empty() {
                    still.push((i, topic));
                }
            }
            waiting = still;
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(waiting);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The nodes that should hold a listing published in `cell`: those
    /// listening to it.
    pub(crate) fn audience(&self, cell: &Geohash) -> Vec<usize> {
        let topic = Topic::area(cell);
        (0..self.nodes.len())
            .filter(|&i| self.topics_of(i).contains(&topic))
            .collect()
    }

    /// What [`City::settle`] left unsettled, in words: a line for each node
    /// and topic ([`City::why_unsettled`]), then which nodes they are.
    pub(crate) async fn unsettled_report(&self, unsettled: &[(usize, Topic)]) -> String {
        let mut report = String::new();
        for (i, topic) in unsettled {
            report.push_str(&self.why_unsettled(*i, topic).await);
            report.push('\n');
        }
        let nodes: BTreeSet<usize> = unsettled.iter().map(|(i, _)| *i).collect();
        report.push_str(&format!(
            "{} nodes {nodes:?} found no mesh peer on a shared topic",
            nodes.len()
        ));
        report
    }

    /// Why node `i` has no mesh peer on `topic`, in words: who else listens
    /// to it, and whether `i` is connected to any of them.
    pub(crate) async fn why_unsettled(&self, i: usize, topic: &Topic) -> String {
        let listeners: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != i && self.topics_of(j).contains(topic))
            .collect();
        let providers: Vec<usize> = listeners
            .iter()
            .copied()
            .filter(|&j| Topic::area(&self.cell_of[j]) == *topic)
            .collect();
        let connected = self.nodes[i]
            .network()
            .connected_peers()
            .await
            .unwrap_or_default();
        let linked: Vec<usize> = listeners
            .iter()
            .copied()
            .filter(|&j| connected.contains(&self.nodes[j].peer_id()))
            .collect();
        format!(
            "node {i} (cell {}) on {topic}: {} other listeners, providers {providers:?}, connected to {linked:?} of them ({} peers in all)",
            self.cell_of[i].as_str(),
            listeners.len(),
            connected.len(),
        )
    }

    /// Who holds `listing` at version `id`.
    pub(crate) fn holders(&self, listing: &ListingId, id: &RecordId) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.listing(listing)
                    .ok()
                    .flatten()
                    .is_some_and(|r| r.id == *id)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// Stops every node, all at once (one by one, each departure would set
    /// the rest redialling and resyncing); panics naming each node whose
    /// shutdown failed or did not return within a minute, rather than hang.
    pub(crate) async fn stop(self) {
        let shutdowns = self.nodes.iter().enumerate().map(|(i, node)| async move {
            match tokio::time::timeout(Duration::from_secs(60), node.shutdown()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("node {i} failed to stop: {e}")),
                Err(_) => Some(format!("node {i} did not stop within a minute")),
            }
        });
        let failed: Vec<String> = futures::future::join_all(shutdowns)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }
}
