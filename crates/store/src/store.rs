//! The [`Store`]: opening, schema, inserting under the replace/tombstone rules, the
//! expiry sweep, reads by id and address, flushing and closing.

use std::path::Path;

use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree,
};
use sled::{IVec, Transactional};
use swapmesh_protocol::{
    Address, RecordBody, RecordId, RecordKind, Timestamp, Topic, Verified, Version, supersedes,
    topics,
};
use swapmesh_sync::{Item, Summary as SyncSummary};

use crate::body::{StoredRecord, decode_stored};
use crate::error::{Result, StoreError};
use crate::keys::{
    AddressEntry, BucketSum, Entry, Index, address_key, bucket_key_of, expiry_key, index_entries,
    parse_stamp, sweep_time, topic_key, topic_prefix,
};
use crate::quota::{Admission, Members, Quota, kept_of, quota_key};

/// Free space a reopen needs on the store's disk: sled writes a segment (512
/// KiB) and its config as it opens.
const REOPEN_ROOM: u64 = 2 * 1024 * 1024;

/// The schema version this build writes and reads. 2: `by_area`, `by_kind` and
/// `words` folded into a 28-byte summary value of `by_topic`/`by_author`, and
/// `sync_sums` added; 3: the agreement trees `agreements`, `agreement_events`,
/// `calendars` and `outbox`; 4: `by_party`, receipts and reviews by party (see the
/// `keys` module); 5: `quotas`, the members of each author's quota per topic
/// ([`crate::quota`]). Older databases are migrated on open.
///
/// The `blobs` tree (the index of the blob files, [`crate::blobs`]) came within
/// schema 4 without a bump: it is a new tree that starts empty (`Trees::open`
/// creates it), nothing existing changes and nothing is derived from other
/// trees, so there is nothing to migrate; and a build without it simply ignores
/// it (its files stay as they are), so a bump would only refuse a downgrade for
/// no reason. (2 → 3 bumped for new empty trees too; that step is kept.)
pub const SCHEMA_VERSION: u32 = 5;

/// Key of the schema version in the `meta` tree.
const SCHEMA_KEY: &[u8] = b"schema_version";

/// Key of the width of the `sync_sums` buckets (log2 of seconds) in `meta`.
const BUCKET_BITS_KEY: &[u8] = b"sync_bucket_bits";

/// Width of a `sync_sums` bucket for new databases: `created_at >> 11`, about 34
/// minutes. Chosen by measurement (BENCHMARKS.md ("Store"), "Bucket width"): a range
/// summary reads the bucket sums inside it and scans the items of the two buckets
/// at its edges, so narrower buckets make the edge scans cheaper and the sum reads
/// more numerous. A database keeps the width it was created with (in `meta`).
pub const SYNC_BUCKET_BITS: u32 = 11;

/// Bucket widths a database may have (2 s to about 35 years).
const BUCKET_BITS_RANGE: std::ops::RangeInclusive<u32> = 1..=40;

/// The trees of schema 1 that schema 2 no longer has.
const SCHEMA_1_TREES: [&str; 3] = ["by_area", "by_kind", "words"];

/// How to open a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// sled's page cache in bytes. Default 16 MiB (sled's own default is 1 GiB).
    pub cache_capacity: u64,
    /// zstd-compress pages on disk when creating a database (an existing database
    /// keeps the setting it was created with). Needs this crate's `compression`
    /// feature, which is on by default; then so is this (it halves the disk, see
    /// BENCHMARKS.md ("Store")).
    pub compression: bool,
    /// How often sled flushes in the background, in milliseconds (`None`: only on
    /// explicit flushes). This bounds what an unacknowledged write can lose; it does
    /// not replace [`Store::flush`] before acknowledging.
    pub flush_every_ms: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            cache_capacity: 16 * 1024 * 1024,
            compression: cfg!(feature = "compression"),
            flush_every_ms: Some(500),
        }
    }
}

/// What [`Store::insert`] did with a record.
///
/// Not `#[non_exhaustive]` on purpose: every user is in this workspace, and a new
/// outcome must fail to compile wherever it is not handled (the node gives each
/// outcome its gossip verdict and metric reason).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InsertOutcome {
    /// Stored; nothing was stored at its address before.
    Inserted,
    /// Stored, replacing the older version that was stored at its address.
    Replaced,
    /// A withdrawal (tombstone) became the current version of its address.
    Tombstoned,
    /// An older or losing version: nothing changed (except that the address now
    /// remembers the version's expiry, see [`Store::insert`]).
    Stale,
    /// This exact record is already the current version.
    Duplicate,
    /// This exact record is already the current version and was accepted on
    /// this topic before ([`Store::insert_gossip`] only): a replay, not to be
    /// forwarded again.
    Replayed,
    /// Already expired at `now`: not stored, nothing changed.
    Expired,
    /// The current version of its address, but outside its author's quota
    /// ([`crate::quota`]) under every topic it names (under the topic it came
    /// on, for [`Store::insert_gossip`]): not stored there. Its address
    /// remembers it, so older versions stay out.
    OverQuota(Quota),
}

impl InsertOutcome {
    /// Did the store take the record as the new current version (gossip: accept and
    /// forward)?
    pub fn is_new(self) -> bool {
        matches!(self, Self::Inserted | Self::Replaced | Self::Tombstoned)
    }
}

/// Handles of every tree. Cheap to clone (sled trees are reference counted).
#[derive(Clone)]
pub(crate) struct Trees {
    pub(crate) meta: sled::Tree,
    pub(crate) records: sled::Tree,
    pub(crate) addresses: sled::Tree,
    pub(crate) by_topic: sled::Tree,
    pub(crate) by_author: sled::Tree,
    pub(crate) by_party: sled::Tree,
    pub(crate) expiry: sled::Tree,
    pub(crate) sync_sums: sled::Tree,
    pub(crate) peers: sled::Tree,
    pub(crate) state: sled::Tree,
    pub(crate) agreements: sled::Tree,
    pub(crate) agreement_events: sled::Tree,
    pub(crate) calendars: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) blobs: sled::Tree,
    /// `(record id, index of the topic among the record's topics)` → empty:
    /// the topics a record was accepted on by gossip.
    pub(crate) accepted: sled::Tree,
    /// `author (32) ‖ topic` → the members of its quota ([`crate::quota`]).
    pub(crate) quotas: sled::Tree,
    /// Sealed mail, kept as a host and tracked as a sender
    /// ([`crate::mailbox`]).
    pub(crate) mailbox: sled::Tree,
    /// Width of the `sync_sums` buckets: `created_at >> bucket_bits`.
    pub(crate) bucket_bits: u32,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            meta: db.open_tree("meta")?,
            records: db.open_tree("records")?,
            addresses: db.open_tree("addresses")?,
            by_topic: db.open_tree("by_topic")?,
            by_author: db.open_tree("by_author")?,
            by_party: db.open_tree("by_party")?,
            expiry: db.open_tree("expiry")?,
            sync_sums: db.open_tree("sync_sums")?,
            peers: db.open_tree("peers")?,
            state: db.open_tree("state")?,
            agreements: db.open_tree("agreements")?,
            agreement_events: db.open_tree("agreement_events")?,
            calendars: db.open_tree("calendars")?,
            outbox: db.open_tree("outbox")?,
            blobs: db.open_tree("blobs")?,
            accepted: db.open_tree("accepted")?,
            quotas: db.open_tree("quotas")?,
            mailbox: db.open_tree("mailbox")?,
            bucket_bits: SYNC_BUCKET_BITS,
        })
    }

    pub(crate) fn index(&self, index: Index) -> &sled::Tree {
        match index {
            Index::Topic => &self.by_topic,
            Index::Author => &self.by_author,
            Index::Party => &self.by_party,
        }
    }

    /// Runs `f` in one transaction over every record tree.
    fn transaction<T>(
        &self,
        f: impl Fn(&Tx<'_>) -> ConflictableTransactionResult<T, StoreError>,
    ) -> Result<(T, i64)> {
        let bytes = std::cell::Cell::new(0i64);
        let trees = (
            &self.records,
            &self.addresses,
            &self.by_topic,
            &self.by_author,
            &self.by_party,
            &self.expiry,
            &self.sync_sums,
            &self.accepted,
            &self.quotas,
        );
        let out = trees.transaction(
            |(records, addresses, topic, author, party, expiry, sums, accepted, quotas)| {
                // A retried run starts again from nothing.
                bytes.set(0);
                f(&Tx {
                    records,
                    addresses,
                    topic,
                    author,
                    party,
                    expiry,
                    sums,
                    accepted,
                    quotas,
                    bits: self.bucket_bits,
                    bytes: &bytes,
                })
            },
        )?;
        Ok((out, bytes.get()))
    }
}

/// The record trees inside one transaction.
struct Tx<'a> {
    records: &'a TransactionalTree,
    addresses: &'a TransactionalTree,
    topic: &'a TransactionalTree,
    author: &'a TransactionalTree,
    party: &'a TransactionalTree,
    expiry: &'a TransactionalTree,
    sums: &'a TransactionalTree,
    accepted: &'a TransactionalTree,
    quotas: &'a TransactionalTree,
    bits: u32,
    /// Bytes of `records` values written less those removed, this run.
    bytes: &'a std::cell::Cell<i64>,
}

/// The result of a step inside a sled transaction.
pub(crate) type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Aborts the transaction with `e`: nothing it wrote is kept.
pub(crate) fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

impl Tx<'_> {
    fn index(&self, index: Index) -> &TransactionalTree {
        match index {
            Index::Topic => self.topic,
            Index::Author => self.author,
            Index::Party => self.party,
        }
    }

    /// Adds (or subtracts) the item of a `by_topic` key to its bucket's sum: a
    /// single-value read-modify-write, which a sled transaction allows.
    fn count_in_bucket(&self, topic_key: &[u8], add: bool) -> TxResult<()> {
        let (Some(key), Some(item)) = (
            bucket_key_of(topic_key, self.bits),
            parse_stamp(topic_key).map(Item::from),
        ) else {
            return abort(StoreError::corrupt("by_topic key shorter than its stamp"));
        };
        let current = match self.sums.get(&key)? {
            None => BucketSum::default(),
            Some(v) => match BucketSum::decode(&v) {
                Some(b) => b,
                None => return abort(StoreError::corrupt("undecodable sync_sums entry")),
            },
        };
        let one = SyncSummary::of(&item);
        let next = if add {
            current.0 + one
        } else {
            current.0 - one
        };
        if next.count == 0 {
            self.sums.remove(key)?;
        } else {
            self.sums.insert(key, &BucketSum(next).encode()[..])?;
        }
        Ok(())
    }

    fn address(&self, key: &[u8]) -> TxResult<Option<AddressEntry>> {
        match self.addresses.get(key)? {
            None => Ok(None),
            Some(v) => match AddressEntry::decode(&v) {
                Some(a) => Ok(Some(a)),
                None => abort(StoreError::corrupt("undecodable address entry")),
            },
        }
    }

    fn stored_body(&self, id: &RecordId) -> TxResult<Option<RecordBody>> {
        let Some(bytes) = self.records.get(id.0)? else {
            return Ok(None);
        };
        match decode_stored(*id, &bytes) {
            Ok(r) => Ok(Some(r.body)),
            Err(e) => abort(e),
        }
    }

    /// Writes a record with its index entries and its expiry entry.
    fn put_record<'e>(
        &self,
        id: &RecordId,
        bytes: &[u8],
        entries: impl IntoIterator<Item = &'e Entry>,
        sweep_at: Timestamp,
    ) -> TxResult<()> {
        let was = self.records.insert(&id.0[..], bytes)?;
        self.bytes
            .set(self.bytes.get() + bytes.len() as i64 - was.map_or(0, |w| w.len() as i64));
        for e in entries {
            let was = self.index(e.index).insert(&e.key[..], &e.value[..])?;
            if e.index == Index::Topic && was.is_none() {
                self.count_in_bucket(&e.key, true)?;
            }
        }
        self.expiry.insert(&expiry_key(sweep_at, id)[..], &[][..])?;
        Ok(())
    }

    /// Removes a stored record with its index entries and its expiry entry.
    fn remove_record(&self, id: &RecordId, body: &RecordBody, sweep_at: Timestamp) -> TxResult<()> {
        if let Some(was) = self.records.remove(&id.0[..])? {
            self.bytes.set(self.bytes.get() - was.len() as i64);
        }
        for e in index_entries(body, id) {
            let was = self.index(e.index).remove(&e.key[..])?;
            if e.index == Index::Topic && was.is_some() {
                self.count_in_bucket(&e.key, false)?;
            }
        }
        self.expiry.remove(&expiry_key(sweep_at, id)[..])?;
        for (i, topic) in topics(body).iter().enumerate() {
            self.accepted.remove(&accepted_key(id, i)[..])?;
            let key = quota_key(&body.author, topic);
            let mut members = self.members(&key)?;
            if members.remove(body.created_at, id) {
                self.put_members(&key, &members)?;
            }
        }
        Ok(())
    }

    /// The members of a quota.
    fn members(&self, key: &[u8]) -> TxResult<Members> {
        match self.quotas.get(key)? {
            None => Ok(Members::default()),
            Some(v) => match Members::decode(&v) {
                Some(m) => Ok(m),
                None => abort(StoreError::corrupt("undecodable quota members")),
            },
        }
    }

    fn put_members(&self, key: &[u8], members: &Members) -> TxResult<()> {
        if members.is_empty() {
            self.quotas.remove(key)?;
        } else {
            self.quotas.insert(key, members.encode())?;
        }
        Ok(())
    }

    /// Removes a record's `by_topic` entry under one topic, with its count in
    /// the bucket sums.
    fn unindex(&self, topic: &Topic, created_at: Timestamp, id: &RecordId) -> TxResult<()> {
        let key = topic_key(topic, created_at, id);
        if self.topic.remove(&key[..])?.is_some() {
            self.count_in_bucket(&key, false)?;
        }
        Ok(())
    }

    /// Is the record indexed under `topic` (kept by its quota there)?
    fn indexed(&self, topic: &Topic, created_at: Timestamp, id: &RecordId) -> TxResult<bool> {
        Ok(self
            .topic
            .get(&topic_key(topic, created_at, id)[..])?
            .is_some())
    }

    /// Drops a stored record that no topic's quota keeps any more, as if it
    /// had expired now: its address keeps older versions out until its
    /// fence. Returns 1 if it went.
    fn drop_if_unkept(&self, id: &RecordId) -> TxResult<usize> {
        let Some(body) = self.stored_body(id)? else {
            return Ok(0);
        };
        for t in topics(&body) {
            if self.indexed(&t, body.created_at, id)? {
                return Ok(0);
            }
        }
        drop_in_tx(self, id, Timestamp(0))
    }

    /// Stores a record that is the current version of its address, if its
    /// quota under at least one of its topics keeps it (a record without
    /// topics always): indexed under the topics that keep it, each member it
    /// displaces unindexed there, and dropped if no topic keeps it any more.
    /// Returns how many records were dropped so, or the quota that refused it.
    /// A record `stored` already is only indexed under the topics that keep
    /// it now and did not before.
    fn admit_record(
        &self,
        p: &Prepared<'_>,
        sweep_at: Timestamp,
        stored: bool,
    ) -> TxResult<Admitted> {
        let (body, id) = (p.body, &p.id);
        let names = topics(body);
        let mut kept = Vec::with_capacity(names.len());
        let mut displaced = Vec::new();
        let mut refused = None;
        for topic in &names {
            if stored && self.indexed(topic, body.created_at, id)? {
                continue;
            }
            let key = quota_key(&body.author, topic);
            let mut members = self.members(&key)?;
            match members.admit(body.created_at, id) {
                Admission::Kept(gone) => {
                    self.put_members(&key, &members)?;
                    displaced.extend(gone.map(|g| (topic, g)));
                    kept.push(topic_prefix(topic));
                }
                Admission::Member => kept.push(topic_prefix(topic)),
                Admission::Refused(quota) => refused = refused.or(Some(quota)),
            }
        }
        if let (true, Some(quota)) = (kept.is_empty(), refused) {
            return Ok(Admitted::Refused(quota));
        }
        let is_kept =
            |e: &&Entry| e.index == Index::Topic && kept.iter().any(|k| e.key.starts_with(k));
        if stored {
            for e in p.entries.iter().filter(is_kept) {
                if self.topic.insert(&e.key[..], &e.value[..])?.is_none() {
                    self.count_in_bucket(&e.key, true)?;
                }
            }
        } else {
            let entries = p
                .entries
                .iter()
                .filter(|e| e.index != Index::Topic || is_kept(e));
            self.put_record(id, &p.bytes, entries, sweep_at)?;
        }
        let mut dropped = 0;
        for (topic, (at, gone)) in displaced {
            self.unindex(topic, at, &gone)?;
            dropped += self.drop_if_unkept(&gone)?;
        }
        Ok(Admitted::Kept { dropped })
    }
}

/// What [`Tx::admit_record`] did.
enum Admitted {
    /// Stored; `dropped` records were displaced from their last quota.
    Kept { dropped: usize },
    /// Not stored: refused by this quota (the first topic's that refused).
    Refused(Quota),
}

/// The `accepted` key of `id` on its `index`-th topic.
fn accepted_key(id: &RecordId, index: usize) -> [u8; 33] {
    let mut key = [0; 33];
    key[..32].copy_from_slice(&id.0);
    key[32] = u8::try_from(index).unwrap_or(u8::MAX);
    key
}

/// The node's database: records and their indexes, the peer address book and the
/// node's own small state. Cheap to clone; clones share one database.
///
/// # Durability
///
/// Writes are atomic (a record and all its index entries land together or not at
/// all) but not durable when they return: sled writes them to disk in the
/// background every [`StoreOptions::flush_every_ms`]. A caller that acknowledges a
/// write to someone (the API answering "created", an agreement event being
/// confirmed) must first make it durable with [`Store::flush`], or use the
/// `_durable` variants which do exactly that.
#[derive(Clone)]
pub struct Store {
    shared: std::sync::Arc<Shared>,
}

/// What every clone of a [`Store`] shares.
struct Shared {
    /// The open database; `None` while [`Store::reopen`] replaces it.
    open: std::sync::RwLock<Option<std::sync::Arc<Open>>>,
    /// How to open it again, and where (`None`: a temporary store, deleted
    /// on close).
    config: Option<(sled::Config, std::path::PathBuf)>,
    /// See [`Store::dropped_by_quota`].
    quota_dropped: std::sync::atomic::AtomicU64,
    /// The width of the `sync_sums` buckets, for good.
    bits: u32,
    /// See [`Store::record_bytes`].
    record_bytes: std::sync::atomic::AtomicU64,
}

/// An open database and its trees.
pub(crate) struct Open {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// The open database. Every call takes it anew, so that a [`Store::reopen`]
    /// reaches every clone.
    pub(crate) fn o(&self) -> Result<std::sync::Arc<Open>> {
        self.shared
            .open
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Reopening)
    }

    /// Closes the database and opens it again from disk, as a new process
    /// would: what was written but never flushed is gone, and sled forgets an
    /// I/O error it keeps returning once it had one (a full disk). Calls made
    /// meanwhile fail with [`StoreError::Reopening`]. For a node that recovers
    /// from a failed write; a temporary store cannot be reopened.
    pub fn reopen(&self) -> Result<()> {
        let Some((config, path)) = &self.shared.config else {
            return Err(StoreError::Database(
                "a temporary store cannot be reopened".into(),
            ));
        };
        // sled writes as it opens: on a full disk the open would fail and
        // leave nothing open, so the old handle stays until there is room.
        if fs2::available_space(path)? < REOPEN_ROOM {
            return Err(StoreError::DiskFull(std::io::Error::from(
                std::io::ErrorKind::StorageFull,
            )));
        }
        let mut open = self
            .shared
            .open
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Our handle goes first: sled's lock is released with the last one.
        drop(open.take());
        let reopened = open_waiting_for_lock(config).and_then(|db| {
            let mut trees = Trees::open(&db)?;
            trees.bucket_bits = self.shared.bits;
            Ok(Open { db, trees })
        })?;
        *open = Some(std::sync::Arc::new(reopened));
        Ok(())
    }

    /// Opens (or creates) the database in directory `path`, checking its schema
    /// version and running migrations. Refuses a database of a newer schema with
    /// [`StoreError::NewerSchema`] without changing it.
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self> {
        Self::open_with_bucket_bits(path, options, SYNC_BUCKET_BITS)
    }

    /// A store in a temporary directory that is deleted when the last clone is
    /// dropped: for tests.
    pub fn temporary() -> Result<Self> {
        Self::temporary_with_bucket_bits(SYNC_BUCKET_BITS)
    }

    /// [`Store::open`], creating a new database with `sync_sums` buckets of
    /// `created_at >> bits` (an existing one keeps its width). For benchmarks and
    /// tests that compare widths; the node uses [`SYNC_BUCKET_BITS`].
    #[doc(hidden)]
    pub fn open_with_bucket_bits(
        path: impl AsRef<Path>,
        options: StoreOptions,
        bits: u32,
    ) -> Result<Self> {
        let path = path.as_ref();
        let options = StoreOptions {
            compression: existing_compression(path)?.unwrap_or(options.compression),
            ..options
        };
        Self::open_config(
            sled_config(&options)?.path(path),
            bits,
            Some(path.to_owned()),
        )
    }

    /// [`Store::temporary`] with `sync_sums` buckets of `created_at >> bits`.
    #[doc(hidden)]
    pub fn temporary_with_bucket_bits(bits: u32) -> Result<Self> {
        let options = StoreOptions::default();
        Self::open_config(sled_config(&options)?.temporary(true), bits, None)
    }

    fn open_config(
        config: sled::Config,
        new_bits: u32,
        path: Option<std::path::PathBuf>,
    ) -> Result<Self> {
        if !BUCKET_BITS_RANGE.contains(&new_bits) {
            return Err(StoreError::Database(format!(
                "sync bucket width 2^{new_bits} s is out of range"
            )));
        }
        let db = open_waiting_for_lock(&config)?;
        let mut trees = Trees::open(&db)?;
        let found = match schema_version(&trees.meta)? {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(v) => v,
            None if trees.records.is_empty() && trees.addresses.is_empty() => {
                trees.bucket_bits = load_bucket_bits(&trees, new_bits)?;
                set_schema_version(&trees.meta, SCHEMA_VERSION)?;
                db.flush()?;
                SCHEMA_VERSION
            }
            // Records but no version: never written by any build of this crate.
            None => return Err(StoreError::UnknownSchema { found: 0 }),
        };
        trees.bucket_bits = load_bucket_bits(&trees, new_bits)?;
        let bits = trees.bucket_bits;
        let store = Self {
            shared: std::sync::Arc::new(Shared {
                open: std::sync::RwLock::new(Some(std::sync::Arc::new(Open { db, trees }))),
                config: path.map(|p| (config, p)),
                quota_dropped: Default::default(),
                bits,
                record_bytes: Default::default(),
            }),
        };
        store.migrate(found)?;
        let held = store
            .o()?
            .trees
            .records
            .iter()
            .values()
            .try_fold(0u64, |n, v| v.map(|v| n + v.len() as u64))?;
        store
            .shared
            .record_bytes
            .store(held, std::sync::atomic::Ordering::Relaxed);
        Ok(store)
    }

    /// Width of this database's `sync_sums` buckets (log2 of seconds).
    pub fn sync_bucket_bits(&self) -> u32 {
        self.shared.bits
    }

    /// The schema version on disk, if one was written.
    pub fn schema_version(&self) -> Result<Option<u32>> {
        schema_version(&self.o()?.trees.meta)
    }

    /// The migration hook: brings schema `found` up to [`SCHEMA_VERSION`] one
    /// step at a time (a newer one was refused before).
    fn migrate(&self, found: u32) -> Result<()> {
        let mut version = found;
        while version < SCHEMA_VERSION {
            // Each step is recorded, so an interrupted migration resumes where it
            // stopped.
            version = self.migration_step(version)?;
            self.set_schema_version(version)?;
            self.o()?.db.flush()?;
        }
        Ok(())
    }

    /// Upgrades the database from schema `from` to the next version and returns it.
    ///
    /// 1 → 2: `records`, `addresses` and `expiry` are unchanged; `by_topic` and
    /// `by_author` get the new summary value, `sync_sums` is built, and `by_area`,
    /// `by_kind` and `words` are dropped. The step rebuilds from `records` only, so
    /// an interrupted run is simply run again on the next open.
    ///
    /// 2 → 3: the agreement trees are new and start empty ([`Trees::open`] has
    /// already created them); nothing else changes, so the step only moves the
    /// version on.
    ///
    /// 3 → 4: `by_party` is new ([`Trees::open`] has created it) and is built from
    /// the receipts and reviews in `records`; nothing else changes. Like 1 → 2 it
    /// clears the tree and rebuilds from `records` only, so an interrupted run is
    /// run again on the next open.
    ///
    /// 4 → 5: `quotas` is new and is built from `records`: per author and
    /// topic the members its quota keeps ([`kept_of`]); a record is unindexed
    /// under each topic that does not keep it, and dropped if none does (its
    /// address stays, ending at its fence). Rerun from scratch if interrupted.
    fn migration_step(&self, from: u32) -> Result<u32> {
        match from {
            1 => {
                self.rebuild_indexes(&[Index::Topic, Index::Author])?;
                for name in SCHEMA_1_TREES {
                    self.o()?.db.drop_tree(name)?;
                }
                Ok(2)
            }
            2 => Ok(3),
            3 => {
                self.rebuild_indexes(&[Index::Party])?;
                Ok(4)
            }
            4 => {
                self.build_quotas()?;
                Ok(5)
            }
            _ => Err(StoreError::UnknownSchema { found: from }),
        }
    }

    /// Builds `quotas` from `records` and applies it (migration 4 → 5).
    fn build_quotas(&self) -> Result<()> {
        use std::collections::BTreeMap;
        self.o()?.trees.quotas.clear()?;
        /// Per quota key: its topic and the stamps of its records.
        type Groups = BTreeMap<Vec<u8>, (Topic, Vec<(Timestamp, RecordId)>)>;
        let mut groups = Groups::new();
        for kv in self.o()?.trees.records.iter() {
            let (k, v) = kv?;
            let id = <[u8; 32]>::try_from(k.as_ref())
                .map(RecordId)
                .map_err(|_| StoreError::corrupt("record key is not 32 bytes"))?;
            let body = decode_stored(id, &v)?.body;
            for topic in topics(&body) {
                groups
                    .entry(quota_key(&body.author, &topic))
                    .or_insert_with(|| (topic, Vec::new()))
                    .1
                    .push((body.created_at, id));
            }
        }
        let mut refused: Vec<(Topic, Timestamp, RecordId)> = Vec::new();
        let mut batch = sled::Batch::default();
        for (key, (topic, records)) in groups {
            let kept = kept_of(&records);
            refused.extend(
                records
                    .iter()
                    .filter(|r| !kept.contains(r))
                    .map(|(at, id)| (topic.clone(), *at, *id)),
            );
            let mut members = Members::default();
            for (at, id) in &kept {
                members.admit(*at, id);
            }
            batch.insert(key, members.encode());
        }
        self.o()?.trees.quotas.apply_batch(batch)?;
        for chunk in refused.chunks(256) {
            self.tx(|tx| {
                for (topic, at, id) in chunk {
                    tx.unindex(topic, *at, id)?;
                }
                for (_, _, id) in chunk {
                    tx.drop_if_unkept(id)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Rewrites the given index trees from `records`, and `sync_sums` with
    /// `by_topic` (outside a transaction: for migrations, which are rerun if
    /// interrupted).
    pub(crate) fn rebuild_indexes(&self, indexes: &[Index]) -> Result<()> {
        let open = self.o()?;
        let t = &open.trees;
        let with_sums = indexes.contains(&Index::Topic);
        for index in indexes {
            t.index(*index).clear()?;
        }
        if with_sums {
            t.sync_sums.clear()?;
        }
        let mut sums: std::collections::BTreeMap<Vec<u8>, SyncSummary> = Default::default();
        let mut batches = Index::ALL.map(|_| sled::Batch::default());
        let mut pending = 0;
        for kv in t.records.iter() {
            let (k, v) = kv?;
            let id = <[u8; 32]>::try_from(k.as_ref())
                .map(RecordId)
                .map_err(|_| StoreError::corrupt("record key is not 32 bytes"))?;
            let record = decode_stored(id, &v)?;
            for e in index_entries(&record.body, &id) {
                if !indexes.contains(&e.index) {
                    continue;
                }
                if e.index == Index::Topic {
                    let key = bucket_key_of(&e.key, t.bucket_bits)
                        .ok_or_else(|| StoreError::corrupt("by_topic key"))?;
                    let one = SyncSummary::of(&Item::new(record.body.created_at, id));
                    let sum = sums.entry(key).or_default();
                    *sum = *sum + one;
                }
                batches[e.index as usize].insert(e.key, e.value);
            }
            pending += 1;
            if pending == 1024 {
                for (index, batch) in Index::ALL.iter().zip(&mut batches) {
                    t.index(*index).apply_batch(std::mem::take(batch))?;
                }
                pending = 0;
            }
        }
        for (index, batch) in Index::ALL.iter().zip(batches) {
            t.index(*index).apply_batch(batch)?;
        }
        if with_sums {
            let mut batch = sled::Batch::default();
            for (key, sum) in sums {
                batch.insert(key, &BucketSum(sum).encode()[..]);
            }
            t.sync_sums.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Writes the schema version. Public only so tests can fake a database from
    /// another build; never call it otherwise.
    #[doc(hidden)]
    pub fn set_schema_version(&self, version: u32) -> Result<()> {
        set_schema_version(&self.o()?.trees.meta, version)
    }

    /// Inserts a verified record under the replace and tombstone rules, atomically
    /// with all its index entries. Not durable on return (see [`Store`]).
    ///
    /// - A record already expired at `now` is never stored ([`InsertOutcome::Expired`]).
    /// - At its address `(author, kind, d)` the version that [`supersedes`] the
    ///   others is kept: a winner replaces the current version and its index
    ///   entries; a loser changes nothing ([`InsertOutcome::Stale`]).
    /// - The address remembers the latest expiry of every version it has seen (its
    ///   fence) and keeps blocking older versions until then, even after the
    ///   current record expired; a tombstone is kept and synced until the fence,
    ///   which is at least [`tombstone_expiry`] of the version it replaced.
    ///
    /// [`tombstone_expiry`]: swapmesh_protocol::record::tombstone_expiry
    pub fn insert(&self, record: &Verified, now: Timestamp) -> Result<InsertOutcome> {
        let outcomes = self.insert_batch(std::slice::from_ref(record), now)?;
        Ok(outcomes[0])
    }

    /// [`Store::insert`] for many records in one transaction: the outcomes are
    /// those of inserting them one after another in this order, and either all of
    /// them are applied or none. sled 0.34 starts a new log buffer for every
    /// transaction, so batching is what makes bulk ingest (sync catch-up, a burst
    /// of gossip) fast and compact on disk; see BENCHMARKS.md ("Store").
    pub fn insert_batch(&self, records: &[Verified], now: Timestamp) -> Result<Vec<InsertOutcome>> {
        let prepared: Vec<Option<Prepared<'_>>> = records
            .iter()
            .map(|r| (r.body().expires_at > now).then(|| Prepared::new(r)))
            .collect();
        if prepared.iter().all(Option::is_none) {
            return Ok(vec![InsertOutcome::Expired; records.len()]);
        }
        let applied: Vec<(InsertOutcome, usize)> = self.tx(|tx| {
            prepared
                .iter()
                .map(|p| match p {
                    None => Ok((InsertOutcome::Expired, 0)),
                    Some(p) => insert_in_tx(tx, p),
                })
                .collect()
        })?;
        Ok(applied
            .into_iter()
            .map(|(outcome, dropped)| {
                self.count_dropped(dropped);
                outcome
            })
            .collect())
    }

    /// Runs `f` in one transaction over every record tree, and keeps
    /// [`Store::record_bytes`] in step with what it committed.
    fn tx<T>(
        &self,
        f: impl Fn(&Tx<'_>) -> ConflictableTransactionResult<T, StoreError>,
    ) -> Result<T> {
        let (out, bytes) = self.o()?.trees.transaction(f)?;
        let held = &self.shared.record_bytes;
        if bytes >= 0 {
            held.fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
        } else {
            let less = bytes.unsigned_abs();
            let _ = held.fetch_update(
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
                |n| Some(n.saturating_sub(less)),
            );
        }
        Ok(out)
    }

    /// Bytes of the stored records as signed (the values of `records`; sled's
    /// disk use is a few times this): counted at open, kept in step by every
    /// write since. What a node's `store_budget` bounds.
    pub fn record_bytes(&self) -> u64 {
        self.shared
            .record_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_dropped(&self, dropped: usize) {
        self.shared
            .quota_dropped
            .fetch_add(dropped as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records dropped since this store was opened because a record of the
    /// same author that comes before them in the quota order displaced them
    /// from their last quota ([`crate::quota`]).
    pub fn dropped_by_quota(&self) -> u64 {
        self.shared
            .quota_dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Would every quota of this record keep it without displacing anything?
    /// `Err`: the quota that would refuse it or lose a record for it. Changes
    /// nothing: the node asks before storing a record of its own, so that a
    /// publish never drops another record of the same author on any node.
    pub fn quota_check(&self, record: &Verified) -> Result<std::result::Result<(), Quota>> {
        let body = record.body();
        for topic in topics(body) {
            let members = match self
                .o()?
                .trees
                .quotas
                .get(quota_key(&body.author, &topic))?
            {
                None => continue,
                Some(v) => Members::decode(&v)
                    .ok_or_else(|| StoreError::corrupt("undecodable quota members"))?,
            };
            if let Some(quota) = members
                .judge(body.created_at, &record.id())
                .cost(body.created_at)
            {
                return Ok(Err(quota));
            }
        }
        Ok(Ok(()))
    }

    /// [`Store::insert`] of a copy that came by gossip on `topic`, remembering
    /// the topics each record was accepted on: a copy of the current version
    /// is [`InsertOutcome::Duplicate`] (accept, forward) the first time on
    /// each of its topics, then [`InsertOutcome::Replayed`], however long ago
    /// gossipsub forgot it. A topic the record does not name is not
    /// remembered (the caller rejects such a copy).
    pub fn insert_gossip(
        &self,
        record: &Verified,
        topic: &swapmesh_protocol::Topic,
        now: Timestamp,
    ) -> Result<InsertOutcome> {
        if record.body().expires_at <= now {
            return Ok(InsertOutcome::Expired);
        }
        let prepared = Prepared::new(record);
        let index = swapmesh_protocol::topics(record.body())
            .iter()
            .position(|t| t == topic);
        let body = record.body();
        let (outcome, dropped) = self.tx(|tx| {
            let (outcome, dropped) = insert_in_tx(tx, &prepared)?;
            let Some(index) = index else {
                return Ok((outcome, dropped));
            };
            if (outcome.is_new() || outcome == InsertOutcome::Duplicate)
                && !tx.indexed(topic, body.created_at, &prepared.id)?
            {
                // Stored for another topic, kept out of this one.
                let members = tx.members(&quota_key(&body.author, topic))?;
                let quota = match members.judge(body.created_at, &prepared.id) {
                    Admission::Refused(quota) => quota,
                    _ => Quota::Topic,
                };
                return Ok((InsertOutcome::OverQuota(quota), dropped));
            }
            let key = accepted_key(&prepared.id, index);
            let outcome = match outcome {
                InsertOutcome::Inserted | InsertOutcome::Replaced | InsertOutcome::Tombstoned => {
                    tx.accepted.insert(&key[..], &[][..])?;
                    outcome
                }
                InsertOutcome::Duplicate if tx.accepted.get(&key[..])?.is_some() => {
                    InsertOutcome::Replayed
                }
                InsertOutcome::Duplicate => {
                    tx.accepted.insert(&key[..], &[][..])?;
                    outcome
                }
                other => other,
            };
            Ok((outcome, dropped))
        })?;
        self.count_dropped(dropped);
        Ok(outcome)
    }

    /// [`Store::insert`], then [`Store::flush`]: durable when it returns.
    pub async fn insert_durable(&self, record: &Verified, now: Timestamp) -> Result<InsertOutcome> {
        let outcome = self.insert(record, now)?;
        self.flush().await?;
        Ok(outcome)
    }

    /// Drops every record (tombstones included) whose time has come at `now`, with
    /// all its index entries, and forgets addresses whose fence has passed, so a
    /// later version can be accepted again. Returns how many records were dropped.
    /// Not durable on return.
    pub fn sweep_expired(&self, now: Timestamp) -> Result<usize> {
        let end = now.0.checked_add(1).map(u64::to_be_bytes);
        let mut dropped = 0;
        loop {
            let batch: std::result::Result<Vec<IVec>, sled::Error> = match end {
                Some(end) => self
                    .o()?
                    .trees
                    .expiry
                    .range(..&end[..])
                    .keys()
                    .take(256)
                    .collect(),
                None => self.o()?.trees.expiry.iter().keys().take(256).collect(),
            };
            let batch = batch?;
            if batch.is_empty() {
                return Ok(dropped);
            }
            // One transaction per batch: sled 0.34 starts a log buffer per
            // transaction.
            dropped += self.tx(|tx| {
                let mut n = 0;
                for key in &batch {
                    n += sweep_one(tx, key, now)?;
                }
                Ok(n)
            })?;
        }
    }

    /// Drops the records stored under `topic` that the node holds for it
    /// alone: each one none of whose other topics is `listened`, unless
    /// `keep` keeps it (the node's own records, receipts and reviews of its
    /// agreements). A dropped record is forgotten with its address, as if
    /// never seen: joining the topic again fetches it anew. For a mesh the
    /// node left: its index entries go with the records held only for it.
    /// Returns how many were dropped; not durable on return.
    pub fn forget_topic(
        &self,
        topic: &swapmesh_protocol::Topic,
        listened: impl Fn(&swapmesh_protocol::Topic) -> bool,
        keep: impl Fn(&StoredRecord) -> bool,
    ) -> Result<usize> {
        let mut doomed = Vec::new();
        for kv in self.o()?.trees.by_topic.scan_prefix(topic_prefix(topic)) {
            let (key, _) = kv?;
            let Some((_, id)) = parse_stamp(&key) else {
                return Err(StoreError::corrupt("by_topic key without a stamp"));
            };
            let Some(record) = self.get(&id)? else {
                continue;
            };
            let elsewhere = swapmesh_protocol::topics(&record.body)
                .iter()
                .any(|t| t != topic && listened(t));
            if !elsewhere && !keep(&record) {
                doomed.push(id);
            }
        }
        let mut dropped = 0;
        for chunk in doomed.chunks(256) {
            dropped += self.tx(|tx| {
                let mut n = 0;
                for id in chunk {
                    // Dropped as if its fence had passed too: the address
                    // goes with it, so the record can be stored again.
                    n += drop_in_tx(tx, id, Timestamp(u64::MAX))?;
                }
                Ok(n)
            })?;
        }
        Ok(dropped)
    }

    /// The topics under which records are stored.
    pub fn stored_topics(&self) -> Result<Vec<swapmesh_protocol::Topic>> {
        self.topic_prefixes()?
            .into_iter()
            .map(|prefix| {
                std::str::from_utf8(&prefix[..prefix.len().saturating_sub(1)])
                    .ok()
                    .and_then(swapmesh_protocol::Topic::parse)
                    .ok_or_else(|| StoreError::corrupt("a stored topic that does not parse"))
            })
            .collect()
    }

    /// The stored record with this id (current versions and tombstones).
    pub fn get(&self, id: &RecordId) -> Result<Option<StoredRecord>> {
        match self.o()?.trees.records.get(id.0)? {
            None => Ok(None),
            Some(bytes) => decode_stored(*id, &bytes).map(Some),
        }
    }

    /// The current stored version at an address (a tombstone if it was withdrawn),
    /// or `None` if none is stored.
    pub fn get_current(&self, address: &Address) -> Result<Option<StoredRecord>> {
        match self.current_version(address)? {
            None => Ok(None),
            Some(v) => self.get(&v.id),
        }
    }

    /// The current stored version of every address of these kinds (records
    /// that expired but were not swept yet included), in address order. Reads
    /// every address key and only the records of these kinds: what the node
    /// needs at start to build its trust graph.
    pub fn current_of_kinds(&self, kinds: &[RecordKind]) -> Result<Vec<StoredRecord>> {
        let codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        let mut out = Vec::new();
        for kv in self.o()?.trees.addresses.iter() {
            let (key, value) = kv?;
            if key.len() < 33 || !codes.contains(&key[32]) {
                continue;
            }
            let entry = AddressEntry::decode(&value)
                .ok_or_else(|| StoreError::corrupt("undecodable address entry"))?;
            if let Some(record) = self.get(&entry.id)? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The version an address is at, even if that record has expired since: a new
    /// version of one's own record must supersede it.
    pub fn current_version(&self, address: &Address) -> Result<Option<Version>> {
        match self.o()?.trees.addresses.get(address_key(address))? {
            None => Ok(None),
            Some(v) => {
                let a = AddressEntry::decode(&v)
                    .ok_or_else(|| StoreError::corrupt("undecodable address entry"))?;
                Ok(Some(Version {
                    seq: a.seq,
                    id: a.id,
                }))
            }
        }
    }

    /// Makes every write so far durable: sled's blocking flush on a thread of
    /// its own, awaited.
    ///
    /// Not sled 0.34's `flush_async`: that runs the flush on sled's IO
    /// threadpool, where it waits for buffer writes queued behind it on the
    /// same pool, and a few dozen flushes at once (many stores in a process,
    /// or many writers of one) can leave every pool thread waiting and no
    /// flush ever returning (spacejam/sled#1241, #1308).
    pub async fn flush(&self) -> Result<()> {
        let db = self.o()?.db.clone();
        let (done, flushed) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("swapmesh-flush".into())
            .spawn(move || {
                let _ = done.send(db.flush());
            })?;
        match flushed.await {
            Ok(result) => result.map(drop).map_err(Into::into),
            Err(_) => Err(StoreError::Database("the flush thread panicked".into())),
        }
    }

    /// [`Store::flush`] for callers without an async runtime; blocks the thread.
    pub fn flush_blocking(&self) -> Result<()> {
        self.o()?.db.flush()?;
        Ok(())
    }

    /// Flushes and closes this handle. The database closes when the last clone is
    /// dropped; every write made through any clone before this call is durable
    /// when it returns.
    pub async fn close(self) -> Result<()> {
        self.flush().await
    }

    /// Bytes the database takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.o()?.db.size_on_disk()?)
    }
}

/// Drops what one `expiry` entry names, inside a transaction.
fn sweep_one(tx: &Tx<'_>, key: &[u8], now: Timestamp) -> TxResult<usize> {
    let Some((_, id)) = parse_stamp(key).filter(|_| key.len() == 40) else {
        return abort(StoreError::corrupt("expiry key is not 40 bytes"));
    };
    let Some(value) = tx.expiry.get(key)? else {
        return Ok(0);
    };
    tx.expiry.remove(key)?;
    if !value.is_empty() {
        // The fence of an address whose current record already expired.
        if tx.address(&value)?.is_some_and(|a| a.id == id) {
            tx.addresses.remove(&value[..])?;
        }
        return Ok(0);
    }
    drop_in_tx(tx, &id, now)
}

/// Drops the stored record `id` with its index entries, as if it had expired
/// at `now`: its address keeps blocking older versions until its fence.
fn drop_in_tx(tx: &Tx<'_>, id: &RecordId, now: Timestamp) -> TxResult<usize> {
    let Some(body) = tx.stored_body(id)? else {
        return Ok(0);
    };
    let akey = address_key(&body.address());
    let address = tx.address(&akey)?;
    let fence = address.map_or(body.expires_at, |a| a.fence);
    tx.remove_record(id, &body, sweep_time(&body, fence))?;
    if let Some(a) = address.filter(|a| a.id == *id) {
        if a.fence <= now {
            tx.addresses.remove(&akey[..])?;
        } else {
            tx.expiry.insert(&expiry_key(a.fence, id)[..], &akey[..])?;
        }
    }
    Ok(1)
}

/// A record ready to be written: everything computed outside the transaction.
struct Prepared<'a> {
    body: &'a RecordBody,
    id: RecordId,
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    akey: Vec<u8>,
}

impl<'a> Prepared<'a> {
    fn new(record: &'a Verified) -> Self {
        let body = record.body();
        let id = record.id();
        Self {
            body,
            id,
            bytes: record.signed().encode(),
            entries: index_entries(body, &id),
            akey: address_key(&body.address()),
        }
    }
}

/// The replace/tombstone rules and the quotas for one record inside a
/// transaction. Returns the outcome and how many other records its quotas
/// displaced for good.
fn insert_in_tx(tx: &Tx<'_>, p: &Prepared<'_>) -> TxResult<(InsertOutcome, usize)> {
    let Prepared { body, id, akey, .. } = p;
    let (id, body) = (*id, *body);
    let new = Version { seq: body.seq, id };
    let stored = |admitted: Admitted, fence: Timestamp, replaced: bool| -> TxResult<_> {
        match admitted {
            Admitted::Kept { dropped } if body.is_tombstone() => {
                Ok((InsertOutcome::Tombstoned, dropped))
            }
            Admitted::Kept { dropped } if replaced => Ok((InsertOutcome::Replaced, dropped)),
            Admitted::Kept { dropped } => Ok((InsertOutcome::Inserted, dropped)),
            Admitted::Refused(quota) => {
                // Not stored, like a current version that expired before its
                // fence: the address ends at the fence.
                tx.expiry.insert(&expiry_key(fence, &id)[..], &akey[..])?;
                Ok((InsertOutcome::OverQuota(quota), 0))
            }
        }
    };
    let Some(cur) = tx.address(akey)? else {
        let fence = body.expires_at;
        let admitted = tx.admit_record(p, sweep_time(body, fence), false)?;
        let entry = AddressEntry {
            id,
            seq: body.seq,
            fence,
        };
        tx.addresses.insert(&akey[..], &entry.encode()[..])?;
        return stored(admitted, fence, false);
    };
    if cur.id == id {
        if tx.records.get(&id.0[..])?.is_some() {
            // Stored: a topic that kept it out before may have room now.
            let dropped = match tx.admit_record(p, sweep_time(body, cur.fence), true)? {
                Admitted::Kept { dropped } => dropped,
                Admitted::Refused(_) => 0,
            };
            return Ok((InsertOutcome::Duplicate, dropped));
        }
        // The current version, not stored: refused or displaced by its quota
        // before (or expired). Its quota may have room now.
        tx.expiry.remove(&expiry_key(cur.fence, &id)[..])?;
        let admitted = tx.admit_record(p, sweep_time(body, cur.fence), false)?;
        return stored(admitted, cur.fence, false);
    }
    let fence = cur.fence.max(body.expires_at);
    let current = tx.stored_body(&cur.id)?;
    if supersedes(
        new,
        Version {
            seq: cur.seq,
            id: cur.id,
        },
    ) {
        match &current {
            Some(old) => tx.remove_record(&cur.id, old, sweep_time(old, cur.fence))?,
            // The current version expired before its fence (or was kept out
            // by its quota): drop the entry that would have ended the address.
            None => tx
                .expiry
                .remove(&expiry_key(cur.fence, &cur.id)[..])
                .map(drop)?,
        }
        let admitted = tx.admit_record(p, sweep_time(body, fence), false)?;
        let entry = AddressEntry {
            id,
            seq: body.seq,
            fence,
        };
        tx.addresses.insert(&akey[..], &entry.encode()[..])?;
        return stored(admitted, fence, current.is_some());
    }
    if fence > cur.fence {
        // A losing version that lives longer: the address must block it (and
        // anything older) until it expires too.
        let moved = AddressEntry { fence, ..cur };
        tx.addresses.insert(&akey[..], &moved.encode()[..])?;
        match &current {
            Some(old) => {
                let (was, now_at) = (sweep_time(old, cur.fence), sweep_time(old, fence));
                if was != now_at {
                    tx.expiry.remove(&expiry_key(was, &cur.id)[..])?;
                    tx.expiry
                        .insert(&expiry_key(now_at, &cur.id)[..], &[][..])?;
                }
            }
            None => {
                tx.expiry.remove(&expiry_key(cur.fence, &cur.id)[..])?;
                tx.expiry
                    .insert(&expiry_key(fence, &cur.id)[..], &akey[..])?;
            }
        }
    }
    Ok((InsertOutcome::Stale, 0))
}

/// The schema version in `meta`, if one was written.
fn schema_version(meta: &sled::Tree) -> Result<Option<u32>> {
    match meta.get(SCHEMA_KEY)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 4] = v
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::corrupt("schema version is not 4 bytes"))?;
            Ok(Some(u32::from_be_bytes(bytes)))
        }
    }
}

fn set_schema_version(meta: &sled::Tree, version: u32) -> Result<()> {
    meta.insert(SCHEMA_KEY, &version.to_be_bytes())?;
    Ok(())
}

/// Reads the bucket width from `meta`, writing `new_bits` there first if the
/// database has none (a new database, or one of schema 1).
fn load_bucket_bits(trees: &Trees, new_bits: u32) -> Result<u32> {
    let bits = match trees.meta.get(BUCKET_BITS_KEY)? {
        Some(v) => {
            let bytes: [u8; 4] = v
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::corrupt("sync bucket width is not 4 bytes"))?;
            u32::from_be_bytes(bytes)
        }
        None => {
            trees
                .meta
                .insert(BUCKET_BITS_KEY, &new_bits.to_be_bytes())?;
            new_bits
        }
    };
    if !BUCKET_BITS_RANGE.contains(&bits) {
        return Err(StoreError::corrupt(format!("sync bucket width {bits}")));
    }
    Ok(bits)
}

/// Whether the database in `dir` was created with compression (`None`: no
/// database yet). sled refuses to open a database with the other setting, and
/// keeps it in the text file `conf` (`use_compression: true`).
fn existing_compression(dir: &Path) -> Result<Option<bool>> {
    let conf = match std::fs::read(dir.join("conf")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = String::from_utf8_lossy(&conf);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("use_compression: "))
        .map(|v| v.trim() == "true"))
}

/// Opens the database, retrying for up to a second while its file lock is held.
///
/// sled releases the lock when the last handle to the database is gone, including
/// those of its background flush tasks, which can outlive [`Store::close`] by a few
/// milliseconds: a store reopened in the same process right after closing (a node
/// restarting in a test) would otherwise find its own lock. Another process that
/// keeps the database open still gets [`StoreError::Locked`], five seconds later.
fn open_waiting_for_lock(config: &sled::Config) -> Result<sled::Db> {
    // A database just closed in this process stays locked until sled's flusher
    // thread lets go of it (its next tick, 500 ms by default): wait up to 5 s.
    let mut tries = 0;
    loop {
        match config.open().map_err(StoreError::from) {
            Err(StoreError::Locked(_)) if tries < 200 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

fn sled_config(options: &StoreOptions) -> Result<sled::Config> {
    if options.compression && !cfg!(feature = "compression") {
        return Err(StoreError::Database(
            "compression needs swapmesh-store's `compression` feature".into(),
        ));
    }
    Ok(sled::Config::new()
        .cache_capacity(options.cache_capacity)
        .use_compression(options.compression)
        .flush_every_ms(options.flush_every_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use swapmesh_protocol::fixtures;

    #[test]
    fn a_schema_1_database_is_migrated_to_the_current_schema_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp(1_700_000_000);
        let records: Vec<Verified> = (1..=20u64)
            .map(|i| {
                let key = fixtures::key(i);
                fixtures::verified_listing(&key, &format!("item{i}"), "u4pruy", at.plus(i * 60))
            })
            .collect();
        {
            let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
            store.insert_batch(&records, at).unwrap();
            // Back to the schema 1 layout: 4-byte summaries, no bucket sums or width,
            // and the three trees schema 2 dropped.
            for tree in [
                &store.o().unwrap().trees.by_topic,
                &store.o().unwrap().trees.by_author,
            ] {
                for kv in tree.iter() {
                    let (k, v) = kv.unwrap();
                    tree.insert(k, &v[..4]).unwrap();
                }
            }
            store.o().unwrap().trees.sync_sums.clear().unwrap();
            store
                .o()
                .unwrap()
                .trees
                .meta
                .remove(BUCKET_BITS_KEY)
                .unwrap();
            for name in SCHEMA_1_TREES {
                store
                    .o()
                    .unwrap()
                    .db
                    .open_tree(name)
                    .unwrap()
                    .insert(b"k", b"")
                    .unwrap();
            }
            store.set_schema_version(1).unwrap();
            assert!(!store.check_consistency().unwrap().is_ok());
            for name in SCHEMA_3_TREES.iter().chain(&SCHEMA_4_TREES) {
                store.o().unwrap().db.drop_tree(name).unwrap();
            }
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
        assert_eq!(store.sync_bucket_bits(), SYNC_BUCKET_BITS);
        let c = store.check_consistency().unwrap();
        assert!(c.is_ok(), "{:?}", c.problems);
        assert_eq!(c.records, records.len());
        let names = store.o().unwrap().db.tree_names();
        for name in SCHEMA_1_TREES {
            assert!(!names.iter().any(|n| n == name.as_bytes()), "{name} kept");
        }
        let page = store
            .search(&crate::Query {
                limit: 100,
                ..crate::Query::default()
            })
            .unwrap();
        assert_eq!(page.records.len(), records.len());
        assert!(store.agreements().unwrap().is_empty());
    }

    /// The trees schema 3 added.
    const SCHEMA_3_TREES: [&str; 4] = ["agreements", "agreement_events", "calendars", "outbox"];

    /// The trees schema 4 added.
    const SCHEMA_4_TREES: [&str; 1] = ["by_party"];

    #[test]
    fn a_schema_2_database_opens_as_the_current_schema_with_its_records_intact() {
        use swapmesh_protocol::agreement::Span;
        use swapmesh_protocol::fixtures::chain::{Chain, LISTED};
        use swapmesh_protocol::listing::DealKind;

        let dir = tempfile::tempdir().unwrap();
        let at = Timestamp(1_700_000_000);
        let records: Vec<Verified> = (1..=20u64)
            .map(|i| {
                let key = fixtures::key(i);
                fixtures::verified_listing(&key, &format!("item{i}"), "u4pruy", at.plus(i * 60))
            })
            .collect();
        let peer = crate::PeerEntry {
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            last_seen: at,
            exchanged: None,
        };
        let (ids, sums) = {
            let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
            store.insert_batch(&records, at).unwrap();
            store.put_peer(b"peer", &peer).unwrap();
            store.put_state("meshes", b"local").unwrap();
            // A schema 2 database: no agreement trees, no `by_party`.
            for name in SCHEMA_3_TREES.iter().chain(&SCHEMA_4_TREES) {
                assert!(store.o().unwrap().db.drop_tree(name).unwrap(), "{name}");
            }
            store.set_schema_version(2).unwrap();
            store.flush_blocking().unwrap();
            let ids: Vec<RecordId> = store
                .o()
                .unwrap()
                .trees
                .records
                .iter()
                .keys()
                .map(|k| RecordId(k.unwrap().as_ref().try_into().unwrap()))
                .collect();
            let sums: Vec<_> = store
                .o()
                .unwrap()
                .trees
                .sync_sums
                .iter()
                .map(Result::unwrap)
                .collect();
            (ids, sums)
        };
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(store.schema_version().unwrap(), Some(SCHEMA_VERSION));
        let names = store.o().unwrap().db.tree_names();
        for name in SCHEMA_3_TREES.iter().chain(&SCHEMA_4_TREES) {
            assert!(names.iter().any(|n| n == name.as_bytes()), "{name} missing");
        }
        let c = store.check_consistency().unwrap();
        assert!(c.is_ok(), "{:?}", c.problems);
        assert_eq!(c.records, records.len());
        for r in &records {
            assert_eq!(store.get(&r.id()).unwrap().unwrap().signed, *r.signed());
        }
        let now_ids: Vec<RecordId> = store
            .o()
            .unwrap()
            .trees
            .records
            .iter()
            .keys()
            .map(|k| RecordId(k.unwrap().as_ref().try_into().unwrap()))
            .collect();
        assert_eq!(now_ids, ids);
        let now_sums: Vec<_> = store
            .o()
            .unwrap()
            .trees
            .sync_sums
            .iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(now_sums, sums);
        assert_eq!(store.peer(b"peer").unwrap(), Some(peer));
        assert_eq!(
            store.get_state("meshes").unwrap().as_deref(),
            Some(&b"local"[..])
        );

        // And the new trees work.
        let chain = Chain::accepted(DealKind::Rent, LISTED.plus(60));
        let state = chain.agreement();
        let item = state.items[0].clone().unwrap();
        let hold = [(item.clone(), state.hold())];
        let commit = crate::AgreementCommit {
            events: &chain.events,
            holds: &hold,
            ..crate::AgreementCommit::new(state)
        };
        assert_eq!(
            store.commit_agreement(&commit).unwrap(),
            crate::CommitOutcome::Committed
        );
        let span: Option<Span> = store.calendar(&item).unwrap().held_by(&state.id);
        assert_eq!(span, state.hold());
        assert!(store.check_consistency().unwrap().is_ok());
    }
}
