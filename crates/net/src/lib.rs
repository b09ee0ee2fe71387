//! swapmesh-net: the network layer of a swapmesh node. It moves bytes and knows
//! nothing of records or storage; the node gives the bytes meaning (DESIGN §2, §4).
//!
//! # Layout
//!
//! - [`config`]: [`NetworkConfig`] and its parts, with the defaults and why, and
//!   how the gossip frame limit follows from the largest message.
//! - `error`: [`NetworkError`], [`PublishError`] and [`RequestError`].
//! - `types`: [`NetworkEvent`], [`ResponseHandle`] and the other values the app
//!   sees.
//! - `handle`: [`NetworkHandle`], the cloneable command sender.
//! - `event_loop`: [`EventLoop`], the one task that owns the swarm, one file per
//!   job:
//!   - `event_loop/mod.rs`: the struct, `run`, `emit` and the dispatch of swarm
//!     events;
//!   - `event_loop/command.rs`: the commands a handle sends, and where each goes;
//!   - `event_loop/gossip.rs`: publish, join and leave topics, gossip events and
//!     verdicts;
//!   - `event_loop/discovery.rs`: mDNS, Kademlia, identify, bootstrap, topic
//!     providers, lookups of a peer's addresses;
//!   - `event_loop/relay.rs`: relay client and server, DCUtR, AutoNAT, listening
//!     through a relay;
//!   - `event_loop/requests.rs`: request-response, pending inbound and outbound
//!     requests;
//!   - `event_loop/peers.rs`: connections and dials, misbehaviour charges, block
//!     and unblock.
//! - `behaviour`: the libp2p behaviour, its fields in a deliberate order, and the
//!   gossipsub configuration (anonymous, content-addressed ids, app validation).
//! - [`scoring`]: gossipsub peer-scoring parameters, each explained.
//! - [`codec`]: size-capped length-prefixed frames for `/swapmesh/sync/1`,
//!   `/swapmesh/agree/1` and `/swapmesh/blob/1`.
//! - `misbehaviour`: [`Misbehaviour`], its penalties, the decaying per-peer count,
//!   and the flood rate limits.
//! - `transport`: builds the swarm on the configured [`Transport`] (memory, TCP,
//!   QUIC, with DNS, the relay client and bandwidth metrics).
//!
//! # Discovery and NAT
//!
//! mDNS on the LAN; Kademlia (`/swapmesh/kad/1`, server mode) fed with
//! identify's listen addresses and bootstrapped from configured addresses; topic
//! providers (every joined topic is announced under sha256(topic) and its other
//! providers are looked up and dialled, periodically); one peer's addresses
//! looked up on demand ([`NetworkHandle::find_peer`]); relay client, DCUtR and
//! AutoNAT v2 client; relay and AutoNAT servers with `server`. Discovered peers
//! are dialled, never added as explicit gossip peers (that would bypass scoring).
//!
//! # Use
//!
//! ```no_run
//! # async fn example() -> Result<(), swapmesh_net::NetworkError> {
//! use swapmesh_net::{Keypair, NetworkConfig, NetworkEvent, Validation};
//!
//! let (handle, mut events, event_loop) = swapmesh_net::new(NetworkConfig::new(
//!     Keypair::generate_ed25519(),
//! ))?;
//! tokio::spawn(event_loop.run());
//! handle.subscribe("swapmesh/1/mesh/local").await?;
//! while let Some(event) = events.recv().await {
//!     if let NetworkEvent::Gossip { message_id, propagation_source, .. } = event {
//!         // decode and validate the record, then:
//!         handle
//!             .report_validation(message_id, propagation_source, Validation::Accept)
//!             .await?;
//!     }
//! }
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

mod behaviour;
pub mod codec;
pub mod config;
mod door;
mod error;
mod event_loop;
mod handle;
mod kad_store;
mod misbehaviour;
pub mod scoring;
mod topics;
mod transport;
mod types;

pub use config::{
    ConnectionLimitsConfig, DiscoveryConfig, FloodLimits, FrameLimits, GossipConfig, MdnsConfig,
    MisbehaviourConfig, NatConfig, NetworkConfig, RelayLimits, ServerConfig, Transport,
};
pub use error::{NetworkError, PublishError, RequestError};
pub use event_loop::EventLoop;
pub use handle::NetworkHandle;
pub use kad_store::{KadLimits, KadStoreStats};
pub use libp2p::{Multiaddr, PeerId, identity, identity::Keypair, multiaddr};
pub use misbehaviour::Misbehaviour;
pub use topics::TopicRule;
pub use types::{
    BlockReason, BlockedPeer, ConnectionInfo, Discovery, MessageId, NetworkEvent, PeerScore,
    Protocol, Reachability, ResponseHandle, UnblockReason, Validation,
};

/// The Kademlia key under which the members of `topic` announce themselves:
/// the bytes of sha256(topic name) (DESIGN §4).
pub fn provider_key(topic: &str) -> Vec<u8> {
    event_loop::provider_key(topic).to_vec()
}

use tokio::sync::mpsc;

/// Builds the network of `config` and starts listening on its addresses.
/// Fails with [`NetworkError::InvalidConfig`] on a value it cannot run with.
///
/// Returns the handle (clone it freely), the receiver of [`NetworkEvent`]s (read
/// it steadily: when it is full the loop stops reading from the network), and the
/// [`EventLoop`], which does nothing until [`EventLoop::run`] is spawned.
pub fn new(
    config: NetworkConfig,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>, EventLoop), NetworkError> {
    config.gossip.validate()?;
    let (swarm, registry) = transport::build_swarm(&config)?;
    let (command_tx, command_rx) = mpsc::channel(config.command_channel_capacity.max(1));
    let (event_tx, event_rx) = mpsc::channel(config.event_channel_capacity.max(1));
    let handle = NetworkHandle::new(command_tx, *swarm.local_peer_id());
    let mut event_loop = EventLoop::new(swarm, registry, command_rx, event_tx, &config);
    for address in &config.listen_addresses {
        event_loop.listen(address.clone())?;
    }
    Ok((handle, event_rx, event_loop))
}
