//! Photos as content-addressed blobs: [`Blobs`], the part of a node that
//! normalises uploads, keeps blob files within a budget, serves them on
//! `/swapmesh/blob/1` and fetches them from the nodes that hold them.
//!
//! # Design
//! A listing names up to 8 photos by [`BlobHash`], the blake3 hash of the
//! photo's bytes.
//!
//! - Normalising ([`normalise`]), on the uploader's node only: the upload is
//!   sniffed (JPEG, PNG or WebP only), decoded under limits (8,000 × 8,000
//!   pixels, 256 MiB), turned upright by its EXIF orientation, stripped of all
//!   metadata (phone photos carry GPS coordinates: DESIGN keeps the exact place
//!   private), scaled to at most 1,600 px on the long side and re-encoded as a
//!   JPEG of at most 512 KiB. The hash names the normalised bytes; the encoder
//!   settings are pinned so the same input gives the same hash on this node.
//!   Thumbnails (320 px) are derived locally, cached beside the blob and never
//!   sent.
//! - Storage: `DATA_DIR/blobs/`, one file per blob named by its hex hash, with
//!   an index in the store's `blobs` tree (size, last use, pinned, orphaned
//!   since); see `swapmesh_store::BlobStore`. Reads check the bytes against the
//!   name. An upload is fsynced and flushed before it is acknowledged; a copy
//!   fetched from another node is a cache and is not fsynced (two fsyncs were
//!   most of a fetch's time): a copy a crash left short fails its check, is
//!   removed, and the read fetches it again.
//! - Fetching (`fetch`): `Get{hash}` → `Blob{bytes}` or `NotFound`, asked of
//!   the peer that sent us a listing naming it, the listing's author, then
//!   connected peers on the listing's topics — no Kademlia providers, which
//!   would fill the provider store and tell everyone which photos a node
//!   holds. At most one fetch in flight per hash. Bytes that do not hash to
//!   what was asked are dropped and the sender charged `InvalidRecord`.
//!   Eager for listings in our own area cell or meshes, lazy (on the first
//!   read) for the cells around it.
//! - Budget: after a fetch, others' least recently used blobs go until the
//!   blobs fit in `blob_budget`; those of our own live listings and of our
//!   agreements' listing copies, and uploads (pinned), never.
//! - Garbage collection ([`Blobs::collect`], in the expiry sweep): a blob no
//!   stored record names (a withdrawn listing names none) is removed after a
//!   grace day by the node's clock.
//! - Serving (`serve`): any held blob to a peer that names its hash (the
//!   private-meshes issue will restrict blobs named only by private records);
//!   a hash not held is `NotFound` at once, with no lookup of our own.

mod fetch;
pub(crate) mod normalise;
mod serve;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swapmesh_net::NetworkHandle;
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AuthorKey, BlobHash, Geohash, Topic};
use swapmesh_store::{BlobStore, Store, StoreError};
use tokio::sync::{Semaphore, mpsc, watch};
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::meshes::MeshBook;
use crate::sync::schedule::Schedule;
use crate::tasks::Tasks;

pub(crate) use fetch::{Holders, PhotosNamed};
pub use normalise::Limit;
use normalise::NormaliseError;

/// How long a blob no stored record names is kept before it is collected.
pub const COLLECT_GRACE_SECS: u64 = DAY;
/// Eager fetches running at once.
const EAGER_FETCHES: usize = 4;

/// A photo as stored here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoInfo {
    /// Its name: blake3 of the normalised bytes.
    pub hash: BlobHash,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
    /// Size of the normalised JPEG in bytes.
    pub bytes: usize,
}

/// Which rendition of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoSize {
    /// The photo as published (at most 1,600 px, 512 KiB).
    #[default]
    Full,
    /// A 320 px thumbnail derived here.
    Thumb,
}

/// Why a photo could not be stored or read.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The upload is not a JPEG, PNG or WebP image.
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// The upload is over a limit (pixels or decoding memory).
    #[error("the image is too large: {0}")]
    TooLarge(Limit),
    /// The upload does not decode.
    #[error("the image does not decode: {0}")]
    Undecodable(String),
    /// The photo does not fit in 512 KiB even at the lowest quality.
    #[error("the photo does not fit in {max} bytes even at JPEG quality {quality}")]
    CannotFit {
        /// The byte limit.
        max: usize,
        /// The lowest quality tried.
        quality: u8,
    },
    /// Neither this node nor any node asked holds the blob.
    #[error("photo {0} is held neither here nor by any node asked")]
    NotFound(BlobHash),
    /// The nodes asked did not answer in time.
    #[error("photo {hash} did not arrive within {} s", .after.as_secs())]
    Timeout {
        /// The photo.
        hash: BlobHash,
        /// How long we waited.
        after: Duration,
    },
    /// The blob store failed.
    #[error("blob store: {0}")]
    Store(String),
}

impl From<NormaliseError> for BlobError {
    fn from(e: NormaliseError) -> Self {
        match e {
            NormaliseError::NotAnImage => Self::NotAnImage,
            NormaliseError::TooLarge(limit) => Self::TooLarge(limit),
            NormaliseError::Undecodable(e) => Self::Undecodable(e),
            NormaliseError::CannotFit { max, quality } => Self::CannotFit { max, quality },
        }
    }
}

impl From<StoreError> for BlobError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// What the blobs hold, for `/metrics` and the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobStats {
    /// Blobs held.
    pub held: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The budget for them.
    pub budget: u64,
}

/// What [`Blobs::new`] takes.
pub(crate) struct BlobsParts {
    pub(crate) store: Store,
    pub(crate) files: BlobStore,
    pub(crate) net: NetworkHandle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) author: AuthorKey,
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) meshes: Arc<MeshBook>,
    pub(crate) area: Option<Geohash>,
    pub(crate) tasks: Arc<Tasks>,
    pub(crate) budget: u64,
    pub(crate) fetch_timeout: Duration,
}

/// The node's blobs. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Blobs {
    inner: Arc<Inner>,
}

/// The result of a fetch in flight, `None` until it ends.
type FetchResult = watch::Receiver<Option<Result<(), BlobError>>>;

struct Inner {
    files: BlobStore,
    store: Store,
    net: NetworkHandle,
    clock: Arc<dyn Clock>,
    author: AuthorKey,
    schedule: Arc<Schedule>,
    meshes: Arc<MeshBook>,
    /// Our own area cell's topic: its listings' photos are fetched eagerly.
    own_cell: Option<Topic>,
    tasks: Arc<Tasks>,
    budget: u64,
    fetch_timeout: Duration,
    holders: Mutex<Holders>,
    /// One entry per hash being fetched: the result, once there is one.
    inflight: Mutex<HashMap<BlobHash, FetchResult>>,
    eager: Arc<Semaphore>,
    metrics: fetch::FetchMetrics,
    /// Where the listings naming each photo travel: who may be given it.
    circles: Mutex<serve::Circles>,
    /// Held while `circles` is read again from the store.
    reading_circles: tokio::sync::Mutex<()>,
}

impl Blobs {
    /// The blobs of `parts.files` (opened, and so repaired, by the caller).
    pub(crate) fn new(parts: BlobsParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                files: parts.files,
                store: parts.store,
                net: parts.net,
                clock: parts.clock,
                author: parts.author,
                schedule: parts.schedule,
                meshes: parts.meshes,
                own_cell: parts.area.map(|a| Topic::area(&a)),
                tasks: parts.tasks,
                budget: parts.budget,
                fetch_timeout: parts.fetch_timeout,
                holders: Mutex::new(Holders::default()),
                inflight: Mutex::new(HashMap::new()),
                eager: Arc::new(Semaphore::new(EAGER_FETCHES)),
                metrics: fetch::FetchMetrics::default(),
                circles: Mutex::new(serve::Circles::default()),
                reading_circles: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Normalises an upload, stores it pinned and flushes before answering
    /// (see the module docs). Nothing is stored for a refused upload.
    pub(crate) async fn upload(&self, bytes: Vec<u8>) -> Result<PhotoInfo, BlobError> {
        let files = self.inner.files.clone();
        let info = tokio::task::spawn_blocking(move || -> Result<PhotoInfo, BlobError> {
            let n = normalise::normalise(&bytes)?;
            let hash = files.put(&n.bytes, true)?;
            debug_assert_eq!(hash, n.hash);
            Ok(PhotoInfo {
                hash,
                width: n.width,
                height: n.height,
                bytes: n.bytes.len(),
            })
        })
        .await
        .map_err(|e| BlobError::Store(format!("normalising task failed: {e}")))??;
        self.inner.store.flush().await?;
        info!(hash = %info.hash, bytes = info.bytes, "photo stored");
        Ok(info)
    }

    /// The bytes of a photo, fetched from the network first if it is not held
    /// here ([`BlobError::Timeout`] after the fetch timeout).
    pub(crate) async fn get(&self, hash: BlobHash, size: PhotoSize) -> Result<Vec<u8>, BlobError> {
        if let Some(bytes) = self.local(hash, size).await? {
            return Ok(bytes);
        }
        let after = self.inner.fetch_timeout;
        match tokio::time::timeout(after, self.fetch(hash)).await {
            Ok(result) => result?,
            Err(_) => return Err(BlobError::Timeout { hash, after }),
        }
        self.local(hash, size)
            .await?
            .ok_or(BlobError::NotFound(hash))
    }

    /// Is the blob held here?
    pub(crate) fn holds(&self, hash: &BlobHash) -> Result<bool, BlobError> {
        Ok(self.inner.files.contains(hash)?)
    }

    /// A held photo or its thumbnail (made and cached on first use).
    async fn local(&self, hash: BlobHash, size: PhotoSize) -> Result<Option<Vec<u8>>, BlobError> {
        let files = self.inner.files.clone();
        tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, BlobError> {
            if size == PhotoSize::Thumb
                && let Some(thumb) = files.thumb(&hash)?
            {
                return Ok(Some(thumb));
            }
            let full = match files.get(&hash) {
                Ok(Some(full)) => full,
                Ok(None) => return Ok(None),
                // A file that no longer matches its name (a cached copy a
                // crash cut short): the store removed it; fetch it again.
                Err(StoreError::Corrupt { .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            if size == PhotoSize::Full {
                return Ok(Some(full));
            }
            let thumb = normalise::thumbnail(&full)?;
            if let Err(e) = files.put_thumb(&hash, &thumb) {
                warn!(%hash, error = %e, "could not cache a thumbnail");
            }
            Ok(Some(thumb))
        })
        .await
        .map_err(|e| BlobError::Store(format!("blob read task failed: {e}")))?
    }

    /// Garbage collection for the expiry sweep: marks the blobs no stored
    /// record names and removes those marked a grace day ago (by the clock),
    /// then keeps within the budget. Returns how many were removed.
    pub(crate) fn collect(&self) -> Result<usize, BlobError> {
        let names = self.inner.store.blob_names(&self.inner.author)?;
        let now = self.inner.clock.now().secs();
        let collected = self
            .inner
            .files
            .collect(&names.named, now, COLLECT_GRACE_SECS)?;
        let evicted = self
            .inner
            .files
            .evict_to(self.inner.budget, |h| names.kept.contains(h))?;
        if !collected.is_empty() || !evicted.is_empty() {
            info!(
                collected = collected.len(),
                evicted = evicted.len(),
                "blobs removed"
            );
        }
        Ok(collected.len() + evicted.len())
    }

    /// Removes others' least recently used blobs until the budget holds,
    /// never `fresh` (the blob a fetch just stored).
    fn keep_within_budget(&self, fresh: BlobHash) -> Result<(), BlobError> {
        if self.inner.files.held_bytes()? <= self.inner.budget {
            return Ok(());
        }
        let names = self.inner.store.blob_names(&self.inner.author)?;
        let evicted = self
            .inner
            .files
            .evict_to(self.inner.budget, |h| *h == fresh || names.kept.contains(h))?;
        if !evicted.is_empty() {
            debug!(
                evicted = evicted.len(),
                "blobs evicted to keep within the budget"
            );
        }
        Ok(())
    }

    /// What is held, for `/metrics` and the status.
    pub(crate) fn stats(&self) -> Result<BlobStats, BlobError> {
        Ok(BlobStats {
            held: self.inner.files.len(),
            bytes: self.inner.files.held_bytes()?,
            budget: self.inner.budget,
        })
    }

    /// The blob counters as Prometheus text.
    pub(crate) fn render_metrics(&self) -> Result<String, BlobError> {
        Ok(self.inner.metrics.render(self.stats()?))
    }

    /// Learns which listings name which photos as they arrive, and fetches the
    /// photos of listings in our own cell and meshes (runs until the ingest
    /// path stops).
    pub(crate) async fn watch(self, mut named: mpsc::Receiver<PhotosNamed>) {
        while let Some(news) = named.recv().await {
            let eager = self.is_eager(&news.topics);
            let hashes = news.hashes.clone();
            self.lock_holders().learn(news);
            if !eager {
                continue;
            }
            for hash in hashes {
                match self.holds(&hash) {
                    Ok(false) => {}
                    Ok(true) => continue,
                    Err(e) => {
                        warn!(%hash, error = %e, "blob index unreadable");
                        continue;
                    }
                }
                let Ok(permit) = self.inner.eager.clone().try_acquire_owned() else {
                    // Enough running: this one waits for its first read.
                    continue;
                };
                let this = self.clone();
                self.inner.tasks.spawn(async move {
                    let _permit = permit;
                    if let Err(e) = this.fetch(hash).await {
                        debug!(%hash, error = %e, "eager photo fetch failed");
                    }
                });
            }
        }
    }

    /// Does a listing on `topics` travel in our own area cell or one of our
    /// meshes (and not only in the cells around ours)?
    fn is_eager(&self, topics: &[Topic]) -> bool {
        topics.iter().any(|t| {
            Some(t) == self.inner.own_cell.as_ref()
                || (t.mesh_id().is_some() && self.inner.meshes.listens_to(t))
        })
    }

    fn lock_holders(&self) -> std::sync::MutexGuard<'_, Holders> {
        self.inner.holders.lock().expect("holders lock")
    }
}
