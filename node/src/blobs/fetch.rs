//! Fetching a blob from the nodes that hold it: whom to ask, in which order,
//! one fetch per hash, and what a wrong answer costs the sender.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;

use swapmesh_net::{Misbehaviour, PeerId, Protocol};
use swapmesh_protocol::blob::{BlobRequest, BlobResponse, MAX_BLOB_PROOFS};
use swapmesh_protocol::private::Role;
use swapmesh_protocol::{AuthorKey, BlobHash, Topic};
use tokio::sync::watch;
use tracing::debug;

use super::{BlobError, BlobStats, Blobs};
use crate::agree::peer_of;

/// Hashes remembered with their holders; the oldest are forgotten first.
const MAX_REMEMBERED: usize = 16_384;
/// Connected peers on a listing's topics asked, at most, after its sender and
/// author.
const MAX_TOPIC_PEERS: usize = 8;

/// A listing that names photos arrived (from the ingest path).
#[derive(Debug, Clone)]
pub(crate) struct PhotosNamed {
    /// The photos it names.
    pub(crate) hashes: Vec<BlobHash>,
    /// Its author.
    pub(crate) author: AuthorKey,
    /// The peer that sent it (gossip's propagation source, or the sync peer).
    pub(crate) from: Option<PeerId>,
    /// The topics it travels on.
    pub(crate) topics: Vec<Topic>,
}

/// Where a photo may be had: from whom a listing naming it came, its author,
/// and the listing's topics.
#[derive(Debug, Clone)]
struct Hint {
    from: Option<PeerId>,
    author: AuthorKey,
    topics: Vec<Topic>,
}

/// What we remember of who can give us which photo (in memory: after a
/// restart the first reads fall back to every connected peer).
#[derive(Debug, Default)]
pub(crate) struct Holders {
    hints: HashMap<BlobHash, Hint>,
    order: VecDeque<BlobHash>,
}

impl Holders {
    /// Remembers the holders of the photos of a listing that arrived.
    pub(crate) fn learn(&mut self, news: PhotosNamed) {
        for hash in news.hashes {
            let hint = Hint {
                from: news.from,
                author: news.author,
                topics: news.topics.clone(),
            };
            if self.hints.insert(hash, hint).is_none() {
                self.order.push_back(hash);
            }
        }
        while self.order.len() > MAX_REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.hints.remove(&old);
            }
        }
    }

    fn hint(&self, hash: &BlobHash) -> Option<Hint> {
        self.hints.get(hash).cloned()
    }
}

/// Fetches by outcome.
#[derive(Debug, Default)]
pub(super) struct FetchMetrics {
    outcomes: Mutex<HashMap<&'static str, u64>>,
    served: Mutex<HashMap<&'static str, u64>>,
}

impl FetchMetrics {
    pub(super) fn fetch(&self, outcome: &'static str) {
        *self
            .outcomes
            .lock()
            .expect("metrics lock")
            .entry(outcome)
            .or_default() += 1;
    }

    pub(super) fn served(&self, outcome: &'static str) {
        *self
            .served
            .lock()
            .expect("metrics lock")
            .entry(outcome)
            .or_default() += 1;
    }

    pub(super) fn render(&self, stats: BlobStats) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP swapmesh_blobs Photos held here.\n\
             # TYPE swapmesh_blobs gauge\n\
             swapmesh_blobs {}\n\
             # HELP swapmesh_blob_bytes Bytes of the photos held here.\n\
             # TYPE swapmesh_blob_bytes gauge\n\
             swapmesh_blob_bytes {}\n\
             # HELP swapmesh_blob_budget_bytes The budget for others' photos.\n\
             # TYPE swapmesh_blob_budget_bytes gauge\n\
             swapmesh_blob_budget_bytes {}",
            stats.held, stats.bytes, stats.budget
        );
        for (family, help, counts, names) in [
            (
                "swapmesh_blob_fetches",
                "Photo requests to other nodes, by outcome.",
                &self.outcomes,
                &["ok", "not_found", "tampered", "failed"][..],
            ),
            (
                "swapmesh_blob_served",
                "Photo requests from other nodes, by outcome.",
                &self.served,
                &["ok", "not_found", "malformed"][..],
            ),
        ] {
            let counts = counts.lock().expect("metrics lock").clone();
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} counter");
            for name in names {
                let n = counts.get(name).copied().unwrap_or(0);
                let _ = writeln!(out, "{family}_total{{outcome=\"{name}\"}} {n}");
            }
        }
        out
    }
}

impl Blobs {
    /// Fetches a blob into the store from the nodes that may hold it; at most
    /// one fetch per hash runs, later callers wait for its result. The fetch
    /// is a task of its own: a caller that gives up does not stop it.
    pub(crate) async fn fetch(&self, hash: BlobHash) -> Result<(), BlobError> {
        let mut result = {
            let mut inflight = self.inner.inflight.lock().expect("inflight lock");
            match inflight.get(&hash) {
                Some(running) => running.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inflight.insert(hash, rx.clone());
                    let this = self.clone();
                    self.inner.tasks.spawn(async move {
                        let outcome = this.fetch_now(hash).await;
                        this.inner
                            .inflight
                            .lock()
                            .expect("inflight lock")
                            .remove(&hash);
                        let _ = tx.send(Some(outcome));
                    });
                    rx
                }
            }
        };
        let outcome = result
            .wait_for(Option::is_some)
            .await
            .map_err(|_| BlobError::NotFound(hash))?;
        outcome.clone().unwrap_or(Err(BlobError::NotFound(hash)))
    }

    /// The peers to ask for `hash`, in order: the sender of a listing naming
    /// it, its author, connected peers on its topics, then other connected
    /// peers (a few of each).
    async fn holders_of(&self, hash: &BlobHash) -> Vec<PeerId> {
        let me = self.inner.net.local_peer_id();
        let mut peers = Vec::new();
        let mut add = |peer: PeerId| {
            if peer != me && !peers.contains(&peer) {
                peers.push(peer);
            }
        };
        let hint = self.lock_holders().hint(hash);
        if let Some(hint) = hint {
            if let Some(from) = hint.from {
                add(from);
            }
            if let Some(author) = peer_of(&hint.author) {
                add(author);
            }
            for peer in self
                .inner
                .schedule
                .peers_on(&hint.topics)
                .into_iter()
                .take(MAX_TOPIC_PEERS)
            {
                add(peer);
            }
        }
        // With nothing remembered, or the peers remembered all gone: connected
        // peers are asked (after the remembered ones).
        for peer in self
            .inner
            .net
            .connected_peers()
            .await
            .unwrap_or_default()
            .into_iter()
            .take(MAX_TOPIC_PEERS)
        {
            add(peer);
        }
        peers
    }

    /// Asks each holder in turn until one gives the right bytes.
    async fn fetch_now(&self, hash: BlobHash) -> Result<(), BlobError> {
        if self.holds(&hash)? {
            return Ok(());
        }
        let private = self.private_topics_of(&hash);
        for peer in self.holders_of(&hash).await {
            let request = self.request_to(peer, hash, &private);
            let answer = self
                .inner
                .net
                .send_request(Protocol::Blob, peer, request.encode())
                .await;
            let frame = match answer {
                Ok(frame) => frame,
                Err(e) => {
                    debug!(%peer, %hash, error = %e, "blob request failed");
                    self.inner.metrics.fetch("failed");
                    continue;
                }
            };
            match BlobResponse::decode(frame) {
                Ok(BlobResponse::ProvenBlob { proof, .. })
                    if !self.holder_proved(peer, &request, &proof) =>
                {
                    debug!(%peer, %hash, "a private photo from a peer that did not prove membership: dropped");
                    self.inner.metrics.fetch("unproven");
                }
                Ok(BlobResponse::Blob(bytes) | BlobResponse::ProvenBlob { bytes, .. }) => {
                    if *blake3::hash(&bytes).as_bytes() != hash.0 {
                        debug!(%peer, %hash, "a blob that does not match its hash: dropped");
                        self.inner.metrics.fetch("tampered");
                        let _ = self
                            .inner
                            .net
                            .report_misbehaviour(peer, Misbehaviour::InvalidRecord)
                            .await;
                        continue;
                    }
                    self.store_fetched(bytes).await?;
                    self.inner.metrics.fetch("ok");
                    debug!(%peer, %hash, "photo fetched");
                    return Ok(());
                }
                Ok(BlobResponse::NotFound) => {
                    self.inner.metrics.fetch("not_found");
                }
                Err(e) => {
                    debug!(%peer, %hash, error = %e, "a malformed blob response");
                    self.inner.metrics.fetch("tampered");
                    let _ = self
                        .inner
                        .net
                        .report_misbehaviour(peer, Misbehaviour::MalformedFrame)
                        .await;
                }
            }
        }
        Err(BlobError::NotFound(hash))
    }

    /// The private meshes' topics we are in where a photo may be shared: those
    /// of the listing that named it, else (nothing remembered) all of ours.
    fn private_topics_of(&self, hash: &BlobHash) -> Vec<Topic> {
        let mut topics: Vec<Topic> = match self.lock_holders().hint(hash) {
            Some(hint) => hint.topics,
            None => self.inner.meshes.topics(),
        };
        topics.retain(|t| t.is_private() && self.inner.meshes.secrets(t).is_some());
        topics.truncate(MAX_BLOB_PROOFS);
        topics
    }

    /// The request for `hash` to `peer`: with our proofs of membership of
    /// `private` topics, bound to that peer.
    fn request_to(&self, peer: PeerId, hash: BlobHash, private: &[Topic]) -> BlobRequest {
        if private.is_empty() {
            return BlobRequest::V1 { hash };
        }
        let (me, them) = (self.inner.net.local_peer_id().to_bytes(), peer.to_bytes());
        let proofs = private
            .iter()
            .filter_map(|topic| {
                let secrets = self.inner.meshes.secrets(topic)?;
                Some((
                    topic.as_str().to_owned(),
                    secrets.proof(Role::Initiator, &me, &them),
                ))
            })
            .collect();
        BlobRequest::V2 { hash, proofs }
    }

    /// Whether `proof`, in a holder's answer to `request`, is its proof of
    /// membership of one of the meshes we proved ourselves in.
    fn holder_proved(&self, peer: PeerId, request: &BlobRequest, proof: &[u8; 32]) -> bool {
        let (me, them) = (self.inner.net.local_peer_id().to_bytes(), peer.to_bytes());
        request.proofs().iter().any(|(name, _)| {
            Topic::parse(name)
                .and_then(|t| self.inner.meshes.secrets(&t))
                .is_some_and(|s| s.check_proof(proof, Role::Responder, &me, &them))
        })
    }

    /// Stores checked bytes of another node's photo and keeps within budget.
    async fn store_fetched(&self, bytes: Vec<u8>) -> Result<(), BlobError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || -> Result<(), BlobError> {
            let hash = this.inner.files.put_cached(&bytes)?;
            // The blob just fetched stays even when only it could go (what
            // we keep is over the budget on its own): evicting it here would
            // answer the read that asked for it `NotFound`, and every read
            // would fetch it again. The next fetch or sweep may evict it.
            this.keep_within_budget(hash)
        })
        .await
        .map_err(|e| BlobError::Store(format!("blob write task failed: {e}")))?
    }
}
