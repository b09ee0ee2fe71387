//! Answering other nodes' `/swapmesh/blob/1` requests. A photo that only
//! private meshes' listings name goes only to a peer that proves membership of
//! one of those meshes (and the answer carries our proof).

use std::collections::{HashMap, HashSet};
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
    /// Photos seen named by private meshes' listings alone: they stay closed
    /// when no listing names them any more (a photo an update took out), until
    /// the node restarts.
    private: HashSet<BlobHash>,
}

/// Whether a photo may be given to the asker.
enum Gate {
    /// To anyone: named by a listing on an area or open mesh topic, or held
    /// here and named by none (an upload not yet published, a photo of a
    /// listing replaced since) and never seen named by a private one.
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

    /// Whether the photo `request` asks for (held here) may go to `peer`: to
    /// anyone when a listing in the open names it (or none does, and no
    /// private one did), to a proven member of a private mesh whose listing
    /// names it (withdrawn ones too: a tombstone keeps its photos), else to
    /// nobody.
    async fn gate(&self, peer: PeerId, request: &BlobRequest) -> Gate {
        let hash = request.hash();
        let (topics, was_private) = self.topics_naming(hash).await;
        if topics.iter().any(|t| !t.is_private()) || (topics.is_empty() && !was_private) {
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

    /// The topics of the listings naming `hash` (none when no listing names
    /// it, or the store could not be read) and whether private meshes' alone
    /// ever named it since the node started, read again from the store when
    /// they are old, or when `hash` is not among them: at once if the last
    /// read is [`REREAD_UNKNOWN`] old, else once it is (a listing published a
    /// moment ago), one read for every request that waited.
    async fn topics_naming(&self, hash: BlobHash) -> (Vec<Topic>, bool) {
        let asked = Instant::now();
        let reread_after = {
            let circles = self.inner.circles.lock().expect("circles lock");
            match circles.read_at {
                None => Some(asked),
                Some(at) if asked.duration_since(at) >= REREAD_ALL => Some(asked),
                Some(_) if circles.topics.contains_key(&hash) => None,
                Some(at) => Some(at + REREAD_UNKNOWN),
            }
        };
        if let Some(after) = reread_after {
            tokio::time::sleep_until(after.into()).await;
            // One read at a time: those who waited with us find it done.
            let _reading = self.inner.reading_circles.lock().await;
            let fresh = self
                .inner
                .circles
                .lock()
                .expect("circles lock")
                .read_at
                .is_some_and(|at| at >= asked);
            if !fresh {
                let read_at = Instant::now();
                let store = self.inner.store.clone();
                match tokio::task::spawn_blocking(move || store.blob_topics()).await {
                    Ok(Ok(topics)) => {
                        let mut circles = self.inner.circles.lock().expect("circles lock");
                        for (hash, named) in &topics {
                            if named.iter().all(Topic::is_private) {
                                circles.private.insert(*hash);
                            } else {
                                circles.private.remove(hash);
                            }
                        }
                        circles.topics = topics;
                        circles.read_at = Some(read_at);
                    }
                    Ok(Err(e)) => debug!(error = %e, "could not read which listings name photos"),
                    Err(e) => debug!(error = %e, "blob topics task failed"),
                }
            }
        }
        let circles = self.inner.circles.lock().expect("circles lock");
        (
            circles.topics.get(&hash).cloned().unwrap_or_default(),
            circles.private.contains(&hash),
        )
    }
}
