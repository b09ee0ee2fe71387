//! The façade's photos: uploading, reading (fetched from the network when not
//! held), and what is held.

use swapmesh_protocol::BlobHash;

use super::Node;
use crate::blobs::{BlobStats, PhotoInfo, PhotoSize};
use crate::error::NodeError;

impl Node {
    /// Normalises and stores an uploaded photo (JPEG, PNG or WebP), flushed
    /// before it returns; attach it to a listing by its hash.
    pub async fn add_photo(&self, bytes: Vec<u8>) -> Result<PhotoInfo, NodeError> {
        Ok(self.inner.blobs.upload(bytes).await?)
    }

    /// A photo's bytes (JPEG), or its thumbnail; fetched from the nodes that
    /// hold it when it is not held here, within
    /// [`NodeConfig::blob_fetch_timeout`](crate::NodeConfig::blob_fetch_timeout).
    pub async fn photo(&self, hash: BlobHash, size: PhotoSize) -> Result<Vec<u8>, NodeError> {
        Ok(self.inner.blobs.get(hash, size).await?)
    }

    /// Is the photo held here (no network)?
    pub fn holds_photo(&self, hash: &BlobHash) -> Result<bool, NodeError> {
        Ok(self.inner.blobs.holds(hash)?)
    }

    /// How many photos are held, their bytes and the budget.
    pub fn photo_stats(&self) -> Result<BlobStats, NodeError> {
        Ok(self.inner.blobs.stats()?)
    }
}
