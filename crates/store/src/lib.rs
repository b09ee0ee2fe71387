//! swapmesh-store: the node's sled database — verified records under the replace,
//! tombstone and expiry rules, their search and sync indexes, agreements with
//! their chains, calendars and outbox, the peer address book and the node's small
//! state.
//!
//! # Layout
//! - [`store`]: [`Store`] — open, schema and migrations, [`Store::insert`] under the
//!   `supersedes` rule in one transaction, [`Store::sweep_expired`], reads, flushing.
//! - [`query`]: [`Query`] search over live listings, newest first with a
//!   [`Cursor`]; [`Store::by_party`], a party's receipts and reviews, paged the
//!   same way; [`Store::topic_items`], a topic's `(created_at, id)` items in sync
//!   order.
//! - [`quota`]: what one author can make a node keep under one topic (200
//!   records, 100 of a day), the same set on every node whatever the arrival
//!   order; applied inside [`Store::insert`]'s transaction.
//! - `prefix`: [`Store::listings_by_id_prefix`], listings by the start of their
//!   id (short ids).
//! - [`agreements`]: [`Store::commit_agreement`] — an agreement's state, events,
//!   pending event, calendar holds and outbox entries in one transaction, with
//!   typed [`CommitOutcome`]s — and the agreement reads.
//! - `calendar`: [`Store::calendar`], an item's holds as one value, and taking
//!   holds inside a commit.
//! - [`outbox`]: what we owe each peer, by [`OutboxKey`] (peer, agreement, seq).
//! - [`mailbox`]: sealed mail kept as a host (with its quotas, in one
//!   transaction) and tracked as a sender and recipient.
//! - [`blobs`]: [`BlobStore`], photos as files named by their hash with their
//!   index in the `blobs` tree ([`Store::blobs`]).
//! - [`peers`]: the peer address book and `get_state`/`put_state`.
//! - [`sync`]: [`Store::sync_view`], a topic as a [`swapmesh_sync::SyncStore`] over
//!   `by_topic` and its per-bucket id sums.
//! - [`check`]: [`Store::check_consistency`], every index and bucket sum against
//!   the records, every agreement's events against its chain.
//! - `keys` (private): the key layout of every tree, documented there; `body`
//!   (private): decoding stored records; [`words`]: the word index's tokenizer.
//!
//! # Durability
//! Every write is atomic; none is durable when it returns unless its name ends in
//! `_durable` (or the caller awaits [`Store::flush`] before acknowledging). See
//! [`Store`].

pub mod agreements;
pub mod blobs;
pub mod body;
mod calendar;
pub mod check;
pub mod error;
mod keys;
pub mod mailbox;
pub mod outbox;
pub mod peers;
mod prefix;
pub mod query;
pub mod quota;
pub mod store;
pub mod sync;
pub mod words;

pub use agreements::{
    AgreementCommit, CommitOutcome, MAX_NOTES, Pending, StoredAgreement, StoredNote,
};
pub use blobs::{BlobEntry, BlobNames, BlobStore};
pub use body::StoredRecord;
pub use check::Consistency;
pub use error::StoreError;
pub use mailbox::{HeldMail, MailPut, MailQuotas, MailTotals, MailboxOf, Mailed, QueuedMail};
pub use outbox::OutboxKey;
pub use peers::PeerEntry;
pub use query::{Cursor, MAX_LIMIT, Page, Query, TopicItem};
pub use quota::Quota;
pub use store::{InsertOutcome, SCHEMA_VERSION, SYNC_BUCKET_BITS, Store, StoreOptions};
pub use sync::TopicSync;
