//! Photos as content-addressed blobs (issue 19).
//!
//! # Design
//! A listing names up to 8 photos by [`BlobHash`](swapmesh_protocol::BlobHash),
//! the blake3 hash of the photo's bytes. The pieces, of which this module holds
//! the first so far:
//!
//! - Normalising ([`normalise`]), on the uploader's node only: the upload is
//!   sniffed (JPEG, PNG or WebP only), decoded under limits (8,000 × 8,000
//!   pixels, 256 MiB), turned upright by its EXIF orientation, stripped of all
//!   metadata (phone photos carry GPS coordinates: DESIGN keeps the exact place
//!   private), scaled to at most 1,600 px on the long side and re-encoded as a
//!   JPEG of at most 512 KiB. The hash names the normalised bytes; the encoder
//!   settings are pinned so the same input gives the same hash on this node.
//!   Thumbnails (320 px) are derived locally and never sent.
//! - Storage: `DATA_DIR/blobs/`, one file per blob named by its hex hash, with
//!   an index in the store's `blobs` tree (size, last use, pinned); see
//!   `swapmesh_store::BlobStore`. Reads check the bytes against the name.
//! - Fetching (later): `/swapmesh/blob/1`, `Get{hash}` → `Blob{bytes}` or
//!   `NotFound`, asked of the peer that sent the listing, its author, then
//!   connected peers on the listing's topics (no Kademlia providers); a blob
//!   that does not hash to what was asked is dropped and its sender charged.
//!   Lazy for listings outside our area, eager within it, under a disk budget
//!   in which others' least recently used blobs go first and our own and those
//!   of our agreements never.
//! - Garbage collection (later): in the expiry sweep, a blob no stored record
//!   names is removed after a grace day.
//! - API and CLI (later): `POST /api/v1/blobs`, `GET /api/v1/blobs/{hash}`,
//!   `listing add|update --photo`, `blob get`.

// The protocol, API and CLI that call these come in a later change.
#![allow(dead_code)]

pub(crate) mod normalise;
