//! What a node is started with, parsed and checked once.

use std::path::PathBuf;
use std::time::Duration;

use swapmesh_net::{
    ConnectionLimitsConfig, GossipConfig, MisbehaviourConfig, Multiaddr, Transport,
};
use swapmesh_protocol::{Geohash, MeshId};
use swapmesh_store::StoreOptions;

/// What a node is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// A laptop or desktop node.
    #[default]
    Personal,
    /// An always-on home server (relays for neighbours, keeps mail; real-network issue).
    Server,
}

/// Everything a [`Node`](crate::Node) is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data directory: key, database, config.
    pub data_dir: PathBuf,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start.
    pub bootstrap: Vec<Multiaddr>,
    /// The node's area (a geohash of 5–6 characters), if it has one. With an area
    /// it listens to its cell and the 8 around it; without one, to the `local` mesh.
    pub area: Option<Geohash>,
    /// Named meshes to be in, on top of those joined earlier (remembered in the store).
    pub meshes: Vec<MeshId>,
    /// LAN discovery (the real-network issue wires it; the memory transport has no LAN).
    pub mdns: bool,
    /// Personal or server.
    pub role: Role,
    /// The transport.
    pub transport: Transport,
    /// The store.
    pub store: StoreOptions,
    /// Gossipsub settings.
    pub gossip: GossipConfig,
    /// Misbehaviour tolerance and blocking.
    pub misbehaviour: MisbehaviourConfig,
    /// Connection limits.
    pub connection_limits: ConnectionLimitsConfig,
    /// How long a published listing lives before it must be renewed (default 90 days).
    pub listing_lifetime: Duration,
    /// Own records kept for a topic with no peers are published, once a first peer
    /// joins, at most this many at once ...
    pub pending_burst: usize,
    /// ... and then this many per second (the receivers' flood limits allow 500 at
    /// once and 50 a second).
    pub pending_per_second: usize,
}

impl NodeConfig {
    /// Defaults for a node in `data_dir` on the memory transport.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: vec!["/memory/0".parse().expect("a valid multiaddr")],
            bootstrap: Vec::new(),
            area: None,
            meshes: Vec::new(),
            mdns: true,
            role: Role::Personal,
            transport: Transport::Memory,
            store: StoreOptions::default(),
            gossip: GossipConfig::default(),
            misbehaviour: MisbehaviourConfig::default(),
            connection_limits: ConnectionLimitsConfig::default(),
            listing_lifetime: Duration::from_secs(90 * 24 * 3600),
            pending_burst: 200,
            pending_per_second: 40,
        }
    }
}
