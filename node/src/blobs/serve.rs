//! Answering other nodes' `/swapmesh/blob/1` requests.

use swapmesh_net::{Misbehaviour, PeerId, ResponseHandle};
use swapmesh_protocol::blob::{BlobRequest, BlobResponse};
use tracing::debug;

use super::Blobs;

impl Blobs {
    /// Answers one blob request from `peer`: the bytes if we hold them,
    /// `NotFound` otherwise — at once, with no lookup of our own, so a stream
    /// of unknown hashes costs an index read each. A malformed request is
    /// declined and charged.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let hash = match BlobRequest::decode(&data) {
            Ok(request) => request.hash(),
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
        let files = self.inner.files.clone();
        let held = tokio::task::spawn_blocking(move || files.get(&hash)).await;
        let response = match held {
            Ok(Ok(Some(bytes))) => {
                self.inner.metrics.served("ok");
                BlobResponse::Blob(bytes)
            }
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
