//! Answering other nodes' `/swapmesh/blob/1` requests. A photo that only
//! private meshes' listings name goes only to a peer that proves membership of
//! one of those meshes (and the answer carries our proof).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use swapmesh_net::{Misbehaviour, PeerId, ResponseHandle};
use swapmesh_protocol::blob::{BlobRequest, BlobResponse};
use swapmesh_protocol::private::{Proof, Role};
use swapmesh_protocol::{BlobHash, Topic};
use tracing::debug;

use super::Blobs;

/// The topics of the listings naming a hash not seen in them are read again
/// at most this often.
const REREAD_UNKNOWN: Duration = Duration::from_secs(2);
/// And all of them at least this often.
const REREAD_ALL: Duration = Duration::from_secs(30);

/// Where the listings naming each photo travel (see `Store::blob_topics`),
/// and when that was read.
#[derive(Default)]
pub(crate) struct Circles {
    read_at: Option<Instant>,
    topics: HashMap<BlobHash, Vec<Topic>>,
}

/// Whether a photo may be given to the asker.
enum Gate {
    /// To anyone: named on an area or open mesh topic, or by no listing.
    Open,
    /// To this proven member, with our proof.
    Member(Proof),
    /// Not to this asker.
    Closed,
}

impl Blobs {
    /// Answers one blob request from `peer`: the bytes if we hold them,
    /// `NotFound` otherwise — at once, with no lookup of our own, so a stream
    /// of unknown hashes costs an index read each. A malformed request is
    /// declined and charged.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let request = match BlobRequest::decode(&data) {
            Ok(request) => request,
            Err(e) => {
                debug!(%peer, error = %e, "a malformed blob request");
                self.inner.metrics.served("malformed");
                drop(reply);
                let _ = self
                    .inner
                    .net
                    .report_misbehaviour(peer, Misbehaviour::MalformedFrame)
                    .await;
                return;
            }
        };
        let hash = request.hash();
        let files = self.inner.files.clone();
        let held = tokio::task::spawn_blocking(move || files.get(&hash)).await;
        let response = match held {
            Ok(Ok(Some(bytes))) => match self.gate(peer, &request).await {
                Gate::Open => {
                    self.inner.metrics.served("ok");
                    BlobResponse::Blob(bytes)
                }
                Gate::Member(proof) => {
                    self.inner.metrics.served("ok");
                    BlobResponse::ProvenBlob { proof, bytes }
                }
                Gate::Closed => {
                    // As if we did not hold it: an outsider learns nothing.
                    debug!(%peer, %hash, "a private photo asked for without a proof");
                    self.inner.metrics.served("unproven");
                    BlobResponse::NotFound
                }
            },
            Ok(Ok(None)) => {
                self.inner.metrics.served("not_found");
                BlobResponse::NotFound
            }
            Ok(Err(e)) => {
                debug!(%hash, error = %e, "a blob could not be read to serve it");
                self.inner.metrics.served("not_found");
                BlobResponse::NotFound
            }
            Err(e) => {
                debug!(%hash, error = %e, "blob read task failed");
                return;
            }
        };
        if let Err(e) = reply.respond(response.encode()).await {
            debug!(%peer, error = %e, "could not answer a blob request");
        }
    }
}

impl Blobs {
    /// Whether the photo `request` asks for (held here) may go to `peer`.
    async fn gate(&self, peer: PeerId, request: &BlobRequest) -> Gate {
        let hash = request.hash();
        let Some(topics) = self.topics_naming(hash).await else {
            return Gate::Open;
        };
        if topics.is_empty() || topics.iter().any(|t| !t.is_private()) {
            return Gate::Open;
        }
        let (them, me) = (peer.to_bytes(), self.inner.net.local_peer_id().to_bytes());
        for (name, proof) in request.proofs() {
            let Some(topic) = Topic::parse(name).filter(|t| topics.contains(t)) else {
                continue;
            };
            if let Some(secrets) = self.inner.meshes.secrets(&topic)
                && secrets.check_proof(proof, Role::Initiator, &them, &me)
            {
                return Gate::Member(secrets.proof(Role::Responder, &them, &me));
            }
        }
        Gate::Closed
    }

    /// The topics of the listings naming `hash`, read again from the store
    /// when they are old, or when `hash` is not among them and a moment has
    /// passed since the last read. `None` when the store could not be read
    /// (the photo is then given as before private meshes: only its hash,
    /// which only the listing tells, leads to it).
    async fn topics_naming(&self, hash: BlobHash) -> Option<Vec<Topic>> {
        let now = Instant::now();
        let stale = {
            let circles = self.inner.circles.lock().expect("circles lock");
            match circles.read_at {
                None => true,
                Some(at) if now.duration_since(at) >= REREAD_ALL => true,
                Some(at) => {
                    !circles.topics.contains_key(&hash) && now.duration_since(at) >= REREAD_UNKNOWN
                }
            }
        };
        if stale {
            let store = self.inner.store.clone();
            match tokio::task::spawn_blocking(move || store.blob_topics()).await {
                Ok(Ok(topics)) => {
                    let mut circles = self.inner.circles.lock().expect("circles lock");
                    circles.topics = topics;
                    circles.read_at = Some(now);
                }
                Ok(Err(e)) => debug!(error = %e, "could not read which listings name photos"),
                Err(e) => debug!(error = %e, "blob topics task failed"),
            }
        }
        let circles = self.inner.circles.lock().expect("circles lock");
        circles.read_at?;
        Some(circles.topics.get(&hash).cloned().unwrap_or_default())
    }
}
