//! swapmesh-sync: range-based set reconciliation (Aljoscha Meyer, "Range-Based Set
//! Reconciliation", arXiv 2212.13567; the idea of Negentropy and iroh-docs' ranger),
//! sans-IO.
//!
//! Two peers hold sets of [`Item`]s — `(created_at, RecordId)` of the live records of
//! one topic — and want to learn the difference with traffic that grows with the
//! difference, not with the sets. A range of the item order is summarised by its
//! count and a [`Fingerprint`] of the sum of its ids modulo 2^256; ranges whose
//! fingerprints differ are split until they are small enough to list.
//!
//! # Layout
//! - [`item`]: items, bounds and ranges of the item order.
//! - [`fingerprint`]: id sums, summaries and fingerprints (and why 16 bytes).
//! - [`store`]: the [`SyncStore`] trait the node's store implements (and what a
//!   sled store should keep).
//! - [`memory`]: in-memory stores ([`MemoryStore`], [`ScanStore`]).
//! - [`message`]: the versioned wire messages and their bounds.
//! - [`reconcile`]: the [`Reconciler`] state machine.
//! - [`config`] and [`error`]: bounds and typed errors.
//!
//! # Wiring
//! The node runs one [`Reconciler`] per (peer, topic) session and carries its bytes
//! over the request-response protocol `/swapmesh/sync/1` (frames of at most
//! [`config::MAX_MESSAGE_BYTES`]):
//!
//! ```
//! use swapmesh_sync::{Config, MemoryStore, Reconciler};
//! # use swapmesh_protocol::{RecordId, Timestamp};
//! # let item = |b| swapmesh_sync::Item::new(Timestamp(1_700_000_000), RecordId([b; 32]));
//! let ours = MemoryStore::from_items([item(1), item(2)]);
//! let theirs = MemoryStore::from_items([item(2), item(3)]);
//!
//! let mut initiator = Reconciler::initiator(Config::default())?;
//! let mut responder = Reconciler::responder(Config::default())?; // on the peer
//! let mut request = initiator.initiate_bytes(&ours)?;
//! loop {
//!     // Request-response: the peer answers each request.
//!     let response = responder.handle_bytes(&theirs, &request)?.expect("a responder always answers");
//!     match initiator.handle_bytes(&ours, &response)? {
//!         Some(next) => request = next,
//!         None => break,
//!     }
//! }
//! let outcome = initiator.into_outcome();
//! assert_eq!(outcome.need, vec![item(3)]); // fetch these from the peer
//! assert_eq!(outcome.have, vec![item(1)]); // offer these to the peer
//! # Ok::<(), swapmesh_sync::SyncError>(())
//! ```
//!
//! Any [`SyncError`] ends the session; [`SyncError::is_peer_fault`] says whether
//! to report the peer.

pub mod config;
pub mod error;
pub mod fingerprint;
pub mod item;
pub mod memory;
pub mod message;
pub mod reconcile;
pub mod store;

pub use config::Config;
pub use error::{Malformed, SyncError};
pub use fingerprint::{Fingerprint, IdSum, Summary};
pub use item::{Bound, Item, Range};
pub use memory::{MemoryStore, ScanStore};
pub use message::{Message, MessageRange, Mode};
pub use reconcile::{Outcome, Reconciler, Role};
pub use store::{Part, SyncStore, split_sorted};
