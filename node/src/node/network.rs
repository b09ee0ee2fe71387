//! The façade's view of the network: peers, addresses, dialling, metrics.

use swapmesh_net::{ConnectionInfo, Multiaddr, PeerId};

use super::Node;
use crate::error::NodeError;

impl Node {
    /// Connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerId>, NodeError> {
        Ok(self.inner.net.connected_peers().await?)
    }

    /// The topics of ours `peer` has joined, as its subscriptions said (what
    /// gossipsub's filter admitted).
    pub fn topics_of(&self, peer: PeerId) -> Vec<swapmesh_protocol::Topic> {
        self.inner.schedule.topics_of(peer)
    }

    /// Addresses we listen on.
    pub async fn listen_addresses(&self) -> Result<Vec<Multiaddr>, NodeError> {
        Ok(self.inner.net.listen_addresses().await?)
    }

    /// Dials a peer.
    pub async fn dial(&self, address: Multiaddr) -> Result<(), NodeError> {
        Ok(self.inner.net.dial(address).await?)
    }

    /// Open connections, with their addresses and whether they are relayed.
    pub async fn connections(&self) -> Result<Vec<ConnectionInfo>, NodeError> {
        Ok(self.inner.net.connections().await?)
    }

    /// Addresses others can reach us at: configured, or confirmed by AutoNAT.
    pub async fn external_addresses(&self) -> Result<Vec<Multiaddr>, NodeError> {
        Ok(self.inner.net.external_addresses().await?)
    }

    /// Announces one more address others can reach us at (see
    /// [`NodeConfig::external_addresses`]).
    pub async fn add_external_address(&self, address: Multiaddr) -> Result<(), NodeError> {
        Ok(self.inner.net.add_external_address(address).await?)
    }

    /// How others reach this node: at a confirmed address, through relays, or
    /// not from outside its LAN.
    pub async fn reachability(&self) -> Result<swapmesh_net::Reachability, NodeError> {
        Ok(self.inner.net.reachability().await?)
    }

    /// The peers blocked for misbehaviour (or on request): why, and how long
    /// still.
    pub async fn blocked_peers(&self) -> Result<Vec<swapmesh_net::BlockedPeer>, NodeError> {
        Ok(self.inner.net.blocked_peers().await?)
    }

    /// What the address book holds for `peer`, most recent first: addresses we
    /// dialled and that answered as `peer` (never what it only reported).
    pub fn known_addresses(&self, peer: swapmesh_net::PeerId) -> Vec<swapmesh_net::Multiaddr> {
        self.inner.address_book.addresses_of(peer)
    }

    /// Unblocks a peer and dials it again at the addresses we know for it;
    /// `false` if it was not blocked.
    pub async fn unblock_peer(&self, peer: swapmesh_net::PeerId) -> Result<bool, NodeError> {
        if !self.inner.net.unblock_peer(peer).await? {
            return Ok(false);
        }
        let addresses = self.inner.address_book.addresses_of(peer);
        if !addresses.is_empty()
            && let Err(e) = self.inner.net.dial_peer(peer, addresses).await
        {
            tracing::debug!(%peer, error = %e, "could not dial an unblocked peer");
        }
        Ok(true)
    }

    /// The network's metrics and the node's own counters in the Prometheus text
    /// format (for `/metrics`).
    pub async fn metrics_text(&self) -> Result<String, NodeError> {
        let libp2p = self.inner.net.metrics_text().await?;
        let peers = self.inner.net.connected_peers().await?.len();
        // OpenMetrics ends with `# EOF`: ours go before it.
        let body = libp2p.trim_end().strip_suffix("# EOF").unwrap_or(&libp2p);
        let mut text = body.to_owned();
        let agreements = self.inner.agree.gauges()?;
        text.push_str(
            &self
                .inner
                .metrics
                .render(&self.sync_progress(), peers, agreements),
        );
        text.push_str(&self.inner.sync.render_metrics());
        text.push_str(&self.inner.blobs.render_metrics()?);
        text.push_str(&self.inner.mail.render_metrics()?);
        text.push_str(&format!(
            "# HELP swapmesh_store_quota_dropped Records dropped since start because a record of the same author displaced them from their quota.\n\
             # TYPE swapmesh_store_quota_dropped counter\n\
             swapmesh_store_quota_dropped_total {}\n",
            self.inner.store.dropped_by_quota()
        ));
        text.push_str(&self.inner.health.render_metrics());
        let kad = self.inner.net.kad_store_stats().await?;
        text.push_str(&format!(
            "# HELP swapmesh_kad_provider_records Provider records others left in our Kademlia store (capped per peer and in all).\n\
             # TYPE swapmesh_kad_provider_records gauge\n\
             swapmesh_kad_provider_records {}\n\
             # HELP swapmesh_kad_provider_records_refused Provider records refused since start: their peer or the store at its cap.\n\
             # TYPE swapmesh_kad_provider_records_refused counter\n\
             swapmesh_kad_provider_records_refused_total {}\n\
             # HELP swapmesh_kad_own_keys Keys we provide ourselves (one per joined topic).\n\
             # TYPE swapmesh_kad_own_keys gauge\n\
             swapmesh_kad_own_keys {}\n",
            kad.provider_records, kad.refused, kad.own_keys
        ));
        let clock = self.clock_skew();
        if let Some(offset) = clock.offset_secs {
            text.push_str(&format!(
                "# HELP swapmesh_clock_offset_seconds Our clock minus our peers' (median over authors of fresh gossip); beyond 600 either way records are ignored.\n\
                 # TYPE swapmesh_clock_offset_seconds gauge\n\
                 swapmesh_clock_offset_seconds {offset}\n"
            ));
        }
        text.push_str("# EOF\n");
        Ok(text)
    }
}
