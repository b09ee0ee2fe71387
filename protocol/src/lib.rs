//! swapmesh-protocol: what the network agrees on, with no I/O.
//!
//! # Layout
//! - [`encoding`]: the canonical bincode encoding (the only module naming bincode).
//! - [`ids`]: authors, record ids, listing ids and their text forms.
//! - [`time`]: timestamps; the clock is always passed in.
//! - [`geo`] and [`topic`]: geohash areas, neighbours, mesh ids, gossip topics.
//! - [`listing`] and [`social`]: the record contents; [`currency`]: the ISO 4217
//!   table and money as people type and read it.
//! - [`record`]: the record body, its bytes, addressing and `supersedes`.
//! - [`signed`]: signed records. [`validate`]: the three outcomes of checking one.
//! - [`gossip`]: the gossip wire message. [`keys`]: keys and mnemonics.
//! - [`agreement`]: terms, the signed event chain and its pure state machine.
//! - [`blob`]: the blob protocol's frames (photos by hash).

pub mod agreement;
pub mod blob;
pub mod currency;
pub mod encoding;
#[cfg(any(test, feature = "test-util"))]
pub mod fixtures;
pub mod geo;
pub mod gossip;
pub mod ids;
pub mod keys;
pub mod listing;
pub mod mail;
pub mod private;
pub mod record;
pub mod signed;
pub mod social;
pub mod time;
pub mod topic;
pub mod validate;

pub use currency::Currency;
pub use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
pub use geo::Geohash;
pub use gossip::GossipMessage;
pub use ids::{AgreementId, AuthorKey, BlobHash, ListingId, ListingIdPrefix, RecordId};
pub use record::{Address, Content, RecordBody, RecordKind, Version, supersedes};
pub use signed::SignedRecord;
pub use time::Timestamp;
pub use topic::{MeshId, Topic, topics};
pub use validate::{Checked, Ignored, Invalid, Verified, check, check_bytes, sign_own};
