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
//! On top of it, the sync protocol `/swapmesh/sync/1` itself is sans-IO too: its
//! versioned frames ([`wire`]) and the session machines ([`session`]) that
//! reconcile a topic with a peer, fetch what we lack and push what it lacks, within
//! bounds a peer cannot stretch. The node's driver only moves bytes, reads the
//! clock, and hands records that arrive to its ingest path.
//!
//! # Layout
//! - [`item`]: items, bounds and ranges of the item order.
//! - [`fingerprint`]: id sums, summaries and fingerprints (and why 16 bytes).
//! - [`store`]: the [`SyncStore`] trait the node's store implements (and what a
//!   sled store should keep), and [`SyncSource`]: the topics a node serves and
//!   their records.
//! - [`memory`]: in-memory stores ([`MemoryStore`], [`ScanStore`], [`MemoryTopics`]).
//! - [`message`]: the reconciliation messages and their bounds.
//! - [`reconcile`]: the [`Reconciler`] state machine.
//! - [`wire`]: the versioned frames of `/swapmesh/sync/1` ([`SyncRequest`],
//!   [`SyncResponse`]) and the protocol's bounds ([`FETCH_IDS`], ...).
//! - [`budget`]: [`RecordBatch`], the one place that packs records into a frame.
//! - [`session`]: the session machines, [`Initiator`] and [`Responders`].
//! - [`config`] and [`error`]: bounds and typed errors.
//!
//! # Wiring
//! The node's driver runs one [`Initiator`] per (peer, topic) session it starts,
//! and one [`Responders`] table for all the sessions peers start with it. Here both
//! ends live in one process, as in the tests; the node puts a request-response
//! round trip where the comment is:
//!
//! ```
//! use std::time::Instant;
//! use swapmesh_sync::{Handled, Initiator, MemoryTopics, Responders, Served, SessionConfig, SyncResponse};
//! # use swapmesh_protocol::{Signature, SignedRecord, Timestamp, Topic};
//! # let topic = Topic::parse("swapmesh/1/mesh/local").unwrap();
//! # let record = |n: u8| SignedRecord { body: vec![n; 40], sig: Signature::from_bytes(&[0; 64]) };
//! # let ingest = |into: &mut MemoryTopics, records: Vec<Vec<u8>>| records.iter().filter(|bytes| {
//! #     let id = SignedRecord::decode(bytes).unwrap().id();
//! #     into.insert(&topic, Timestamp(1_700_000_000), id, bytes.to_vec())
//! # }).count();
//! let (mut ours, mut theirs) = (MemoryTopics::new(), MemoryTopics::new());
//! # let (a, b) = (record(1), record(2));
//! # ours.insert(&topic, Timestamp(1_700_000_000), a.id(), a.encode());
//! # theirs.insert(&topic, Timestamp(1_700_000_000), b.id(), b.encode());
//! let config = SessionConfig::new(1 << 20)?; // the network's frame limit
//! let mut responders = Responders::<u64>::new(config); // on the peer
//! let session_id = 7; // the driver draws it at random
//! let mut session = Initiator::new(topic.clone(), session_id, config)?;
//!
//! while let Some(request) = session.poll_request(&ours)? {
//!     // The driver sends `request.encode()` and awaits the answer's bytes; the
//!     // peer's driver hands the bytes to its `Responders` with its clock's `now`.
//!     let answer = match responders.serve(&1, &request.encode(), Instant::now(), &theirs) {
//!         Served::Answer(answer) => answer,
//!         Served::Ingest { records, .. } => SyncResponse::pushed(ingest(&mut theirs, records)),
//!         Served::Refused { response, error } => response, // report the peer if error.fault()
//!     };
//!     if let Handled::Fetched(records) = session.handle_response_bytes(&ours, &answer.encode())? {
//!         session.stored(ingest(&mut ours, records));
//!     }
//! }
//! let report = session.into_report();
//! assert_eq!((report.needed, report.fetched, report.offered, report.pushed), (1, 1, 1, 1));
//! # Ok::<(), swapmesh_sync::SessionError>(())
//! ```
//!
//! Any [`SessionError`] ends the session; [`SessionError::fault`] says whether to
//! report the peer, and for what. The [`Reconciler`] alone runs the same way over
//! reconciliation messages (see [`reconcile`] and the tests).

pub mod budget;
pub mod config;
pub mod error;
pub mod fingerprint;
pub mod item;
pub mod memory;
pub mod message;
pub mod reconcile;
pub mod session;
pub mod store;
pub mod wire;

pub use budget::{Offer, RecordBatch};
pub use config::Config;
pub use error::{Malformed, PeerFault, SessionError, SyncError, WireError};
pub use fingerprint::{Fingerprint, IdSum, Summary};
pub use item::{Bound, Item, Range};
pub use memory::{MemoryStore, MemoryTopics, ScanStore};
pub use message::{Message, MessageRange, Mode};
pub use reconcile::{Outcome, Reconciler, Role};
pub use session::{
    Admission, Done, FINISHED_PER_PEER, Handled, Initiator, MAX_RETRIES, MAX_SESSIONS_PER_PEER,
    REQUEST_COST, RETRY_FIRST, ResponderLimits, Responders, SESSION_IDLE, Served, SessionConfig,
    SessionReport, Work,
};
pub use store::{Part, SyncSource, SyncStore, split_sorted};
pub use wire::{FETCH_IDS, MAX_RECORDS, Refusal, SyncRequest, SyncResponse};
