//! The blob store: photos as files named by their blake3 hash, with an index in
//! the `blobs` tree (see the `keys` module).
//!
//! # Files and index
//! A blob is the file `<dir>/<hex hash>`, written as a temporary file in the same
//! directory, fsynced, renamed into place, and the directory fsynced; only then
//! is its index entry ([`BlobEntry`]: size, last use, pinned) inserted. So a file
//! is complete whenever it has its name, and an entry whose file exists names a
//! whole blob. Every read checks the bytes against the name: a file that does
//! not hash to its name is removed with its entry and reported as
//! [`StoreError::Corrupt`] (the caller may fetch the blob again).
//!
//! # Repair at open
//! [`Store::blobs`] brings the directory and the index into step before anything
//! else reads them: leftover temporary files are removed, an entry without its
//! file is removed, and a blob file without an entry is removed (its put never
//! finished: the entry is written, and like every store write made durable by
//! [`Store::flush`], after the file, so nothing was acknowledged for it). Files
//! whose names are not a hex hash (thumbnails, later) are left alone. A file
//! that vanishes while the node runs is found on its first read (the entry is
//! removed and the read answers `None`).
//!
//! # Durability
//! The file is durable when [`BlobStore::put`] returns, the entry like every
//! store write only after [`Store::flush`]: a caller that acknowledges an upload
//! flushes first. [`BlobStore::put_cached`] (another node's photo) skips the
//! fsyncs: after a crash its file may be short, which the next read finds.
//!
//! # Concurrency
//! Calls for different hashes are independent. Calls for the same hash must not
//! race a [`BlobStore::remove`] or an eviction of it (the node keeps at most one
//! fetch in flight per hash); two puts of the same bytes are harmless.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_protocol::listing::ListingStatus;
use swapmesh_protocol::{AuthorKey, BlobHash, Content, RecordBody, RecordId, Topic, topics};

use crate::body::{decode_body, decode_stored};
use crate::error::{Result, StoreError};
use crate::store::Store;

/// Largest encoded index entry read back.
const MAX_ENTRY: usize = 64;

/// Prefix of temporary files in the blob directory.
const TEMP_PREFIX: &str = ".tmp-blob-";

/// A blob's index entry in the `blobs` tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    /// Size of the file in bytes.
    pub size: u64,
    /// When it was last put or read, as a number from `sled::Db::generate_id`:
    /// increasing with every use, also across restarts, so it orders uses
    /// without ties (eviction goes by it).
    pub last_use: u64,
    /// Never evicted (our own photos, those of our agreements).
    pub pinned: bool,
    /// Since when (seconds, by the node's clock) no stored record has named
    /// it, as the last [`BlobStore::collect`] found; `None` while one does.
    pub orphan_since: Option<u64>,
}

/// The blobs of one node: files in a directory with their index in the store's
/// `blobs` tree. Cheap to clone. Opened with [`Store::blobs`].
#[derive(Clone)]
pub struct BlobStore {
    /// The store whose `blobs` tree indexes the files (taken anew each time,
    /// so that a reopened store is seen).
    store: Store,
    dir: PathBuf,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn decode_entry(bytes: &[u8]) -> Result<BlobEntry> {
    decode_canonical(bytes, MAX_ENTRY).map_err(|e| StoreError::corrupt(format!("blob entry: {e}")))
}

fn hash_of(bytes: &[u8]) -> BlobHash {
    BlobHash(*blake3::hash(bytes).as_bytes())
}

/// The hash a blob file's name spells, if it is one.
fn parse_name(name: &str) -> Option<BlobHash> {
    if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    name.parse().ok()
}

/// fsyncs a directory, so that a rename or removal in it is durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Where a body [`Store::each_listing_body`] hands over comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A stored record.
    Record,
    /// The listing copy of one of our agreements.
    Agreement,
}

/// Which blobs the stored records name (see [`Store::blob_names`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobNames {
    /// Named by a live listing or by the listing copy of an agreement: kept
    /// from garbage collection.
    pub named: HashSet<BlobHash>,
    /// Named by a live listing of `me`'s or by an agreement's listing copy:
    /// never evicted to keep within the budget.
    pub kept: HashSet<BlobHash>,
}

impl Store {
    /// The blobs the stored records name: each live listing's photos, and the
    /// photos of the listing copies in our agreements (the store holds only
    /// agreements we are a party of). A withdrawn listing names none. One scan
    /// of the records and agreements: the expiry sweep and an eviction call it,
    /// not every request.
    pub fn blob_names(&self, me: &AuthorKey) -> Result<BlobNames> {
        let mut names = BlobNames::default();
        self.each_listing_body(|body, source| {
            let Content::Listing(listing) = &body.content else {
                return;
            };
            let kept = match source {
                Source::Record => body.author == *me,
                Source::Agreement => true,
            };
            // An agreement's copy names its photos whatever its status.
            if source == Source::Agreement || listing.status != ListingStatus::Withdrawn {
                names.named.extend(listing.photos.iter().copied());
                if kept {
                    names.kept.extend(listing.photos.iter().copied());
                }
            }
        })?;
        Ok(names)
    }

    /// The topics of the listings that name each blob, withdrawn ones
    /// included (a tombstone keeps its photos and its place), in one scan of
    /// the records; agreements' listing copies count with their own topics:
    /// who may be given a photo follows from where the listings naming it
    /// travel.
    pub fn blob_topics(&self) -> Result<HashMap<BlobHash, Vec<Topic>>> {
        let mut out: HashMap<BlobHash, Vec<Topic>> = HashMap::new();
        self.each_listing_body(|body, _| {
            let Content::Listing(listing) = &body.content else {
                return;
            };
            for hash in &listing.photos {
                let known = out.entry(*hash).or_default();
                for topic in topics(body) {
                    if !known.contains(&topic) {
                        known.push(topic);
                    }
                }
            }
        })?;
        Ok(out)
    }

    /// Calls `f` with the body of every stored record, then of every listing
    /// copy in our agreements, saying which it is: one scan.
    fn each_listing_body(&self, mut f: impl FnMut(&RecordBody, Source)) -> Result<()> {
        for kv in self.o()?.trees.records.iter() {
            let (k, v) = kv?;
            let id = RecordId(
                k.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::corrupt("record key is not 32 bytes"))?,
            );
            f(&decode_stored(id, &v)?.body, Source::Record);
        }
        for agreement in self.agreements()? {
            let copies = [
                Some(&agreement.state.listing),
                agreement.state.theirs.as_ref(),
            ];
            for copy in copies.into_iter().flatten() {
                f(&decode_body(&copy.body)?, Source::Agreement);
            }
        }
        Ok(())
    }

    /// The blob store over the files in `dir` (the node's `DATA_DIR/blobs/`),
    /// created if missing, repaired against the index (see the [module
    /// docs](crate::blobs)).
    pub fn blobs(&self, dir: impl Into<PathBuf>) -> Result<BlobStore> {
        let blobs = BlobStore {
            store: self.clone(),
            dir: dir.into(),
        };
        fs::create_dir_all(&blobs.dir)?;
        blobs.repair()?;
        Ok(blobs)
    }
}

impl BlobStore {
    /// The directory of the blob files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a blob's file.
    pub fn path_of(&self, hash: &BlobHash) -> PathBuf {
        self.dir.join(hash.to_string())
    }

    /// The path of a blob's thumbnail (derived here, never sent): its file name
    /// with `.thumb`, which the repair at open leaves alone.
    pub fn thumb_path_of(&self, hash: &BlobHash) -> PathBuf {
        self.dir.join(format!("{hash}.thumb"))
    }

    /// The cached thumbnail of a held blob, if one was made.
    pub fn thumb(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        if !self.contains(hash)? {
            return Ok(None);
        }
        match fs::read(self.thumb_path_of(hash)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Caches the thumbnail of a held blob (temp file and rename, so a reader
    /// never sees half of one; not fsynced: it is derived again if lost).
    pub fn put_thumb(&self, hash: &BlobHash, bytes: &[u8]) -> Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(self.thumb_path_of(hash)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Brings files and index into step (module docs, "Repair at open").
    fn repair(&self) -> Result<()> {
        let mut files = HashSet::new();
        let mut thumbs = Vec::new();
        let mut removed_any = false;
        for dirent in fs::read_dir(&self.dir)? {
            let dirent = dirent?;
            let name = dirent.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TEMP_PREFIX) {
                tracing::debug!(file = name, "removing an unfinished blob write");
                fs::remove_file(dirent.path())?;
                removed_any = true;
            } else if let Some(hash) = parse_name(name) {
                files.insert(hash);
            } else if let Some(hash) = name.strip_suffix(".thumb").and_then(parse_name) {
                thumbs.push(hash);
            }
        }
        for kv in self.store.o()?.trees.blobs.iter() {
            let (k, _) = kv?;
            let hash = BlobHash(
                k.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::corrupt("blob key is not 32 bytes"))?,
            );
            if !files.remove(&hash) {
                tracing::warn!(%hash, "blob file missing: removing its index entry");
                self.store.o()?.trees.blobs.remove(k)?;
            }
        }
        for hash in files {
            tracing::warn!(%hash, "blob file without an index entry: removing it");
            fs::remove_file(self.path_of(&hash))?;
            removed_any = true;
        }
        for hash in thumbs {
            if !self.store.o()?.trees.blobs.contains_key(hash.0)? {
                fs::remove_file(self.thumb_path_of(&hash))?;
            }
        }
        if removed_any {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// The index entry of a blob.
    pub fn entry(&self, hash: &BlobHash) -> Result<Option<BlobEntry>> {
        self.store
            .o()?
            .trees
            .blobs
            .get(hash.0)?
            .map(|v| decode_entry(&v))
            .transpose()
    }

    fn put_entry(&self, hash: &BlobHash, entry: &BlobEntry) -> Result<()> {
        self.store.o()?.trees.blobs.insert(hash.0, encode(entry))?;
        Ok(())
    }

    /// Stores `bytes` under their blake3 hash and returns it. Already held: only
    /// its last use moves on (and it becomes pinned if `pinned`; a put never
    /// unpins, see [`BlobStore::set_pinned`]). The file is durable on return, the
    /// entry after [`Store::flush`].
    pub fn put(&self, bytes: &[u8], pinned: bool) -> Result<BlobHash> {
        self.put_with(bytes, pinned, true)
    }

    /// [`BlobStore::put`] of a copy of another node's photo, not fsynced: a
    /// cache, whose every read is checked against the hash, so a file a crash
    /// left short or empty is found, removed and fetched again. (Two fsyncs
    /// per photo are most of a fetch's time; see BENCHMARKS.md.)
    pub fn put_cached(&self, bytes: &[u8]) -> Result<BlobHash> {
        self.put_with(bytes, false, false)
    }

    fn put_with(&self, bytes: &[u8], pinned: bool, durable: bool) -> Result<BlobHash> {
        let hash = hash_of(bytes);
        let last_use = self.store.o()?.db.generate_id()?;
        let path = self.path_of(&hash);
        if let Some(old) = self.entry(&hash)?
            && path.exists()
        {
            self.put_entry(
                &hash,
                &BlobEntry {
                    last_use,
                    pinned: old.pinned || pinned,
                    ..old
                },
            )?;
            return Ok(hash);
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        tmp.write_all(bytes)?;
        if durable {
            tmp.as_file().sync_all()?;
        }
        tmp.persist(&path).map_err(|e| e.error)?;
        if durable {
            sync_dir(&self.dir)?;
        }
        self.put_entry(
            &hash,
            &BlobEntry {
                size: bytes.len() as u64,
                last_use,
                pinned,
                orphan_since: None,
            },
        )?;
        Ok(hash)
    }

    /// A blob's bytes, checked against its hash; its last use moves on. `None`
    /// if it is not held (or its file has gone: the entry is then removed). A
    /// file whose bytes do not hash to its name is removed with its entry and
    /// reported as [`StoreError::Corrupt`].
    pub fn get(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>> {
        let Some(entry) = self.entry(hash)? else {
            return Ok(None);
        };
        let path = self.path_of(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tracing::warn!(%hash, "blob file missing: removing its index entry");
                self.store.o()?.trees.blobs.remove(hash.0)?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        if hash_of(&bytes) != *hash {
            tracing::warn!(%hash, "blob file does not match its hash: removing it");
            self.remove(hash)?;
            return Err(StoreError::corrupt(format!(
                "blob {hash} does not match its hash (removed)"
            )));
        }
        self.put_entry(
            hash,
            &BlobEntry {
                size: bytes.len() as u64,
                last_use: self.store.o()?.db.generate_id()?,
                ..entry
            },
        )?;
        Ok(Some(bytes))
    }

    /// Is the blob held (by the index; [`BlobStore::get`] checks the file)?
    pub fn contains(&self, hash: &BlobHash) -> Result<bool> {
        Ok(self.store.o()?.trees.blobs.contains_key(hash.0)?)
    }

    /// Pins or unpins a held blob; returns whether it is held.
    pub fn set_pinned(&self, hash: &BlobHash, pinned: bool) -> Result<bool> {
        let Some(entry) = self.entry(hash)? else {
            return Ok(false);
        };
        self.put_entry(hash, &BlobEntry { pinned, ..entry })?;
        Ok(true)
    }

    /// Removes a blob, entry then file; returns whether it was held.
    pub fn remove(&self, hash: &BlobHash) -> Result<bool> {
        let held = self.store.o()?.trees.blobs.remove(hash.0)?.is_some();
        match fs::remove_file(self.thumb_path_of(hash)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        match fs::remove_file(self.path_of(hash)) {
            Ok(()) => sync_dir(&self.dir)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(held)
    }

    /// Every held blob with its entry, in hash order.
    pub fn entries(&self) -> Result<Vec<(BlobHash, BlobEntry)>> {
        self.store
            .o()?
            .trees
            .blobs
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let hash = BlobHash(
                    k.as_ref()
                        .try_into()
                        .map_err(|_| StoreError::corrupt("blob key is not 32 bytes"))?,
                );
                Ok((hash, decode_entry(&v)?))
            })
            .collect()
    }

    /// How many blobs are held.
    pub fn len(&self) -> usize {
        self.store.o().map_or(0, |o| o.trees.blobs.len())
    }

    /// Is no blob held?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of all held blobs.
    pub fn held_bytes(&self) -> Result<u64> {
        Ok(self.entries()?.iter().map(|(_, e)| e.size).sum())
    }

    /// Removes least recently used blobs until at most `budget` bytes are held,
    /// never a pinned one nor one for which `keep` answers true; returns the
    /// removed hashes, oldest first. May stay over budget if what is left is all
    /// kept.
    pub fn evict_to(&self, budget: u64, keep: impl Fn(&BlobHash) -> bool) -> Result<Vec<BlobHash>> {
        let mut entries = self.entries()?;
        let mut held: u64 = entries.iter().map(|(_, e)| e.size).sum();
        entries.sort_by_key(|(_, e)| e.last_use);
        let mut removed = Vec::new();
        for (hash, entry) in entries {
            if held <= budget {
                break;
            }
            if entry.pinned || keep(&hash) {
                continue;
            }
            self.remove(&hash)?;
            held -= entry.size;
            removed.push(hash);
        }
        Ok(removed)
    }

    /// Garbage collection: a blob that `named` does not contain (no stored
    /// record names it) is marked an orphan at `now` (seconds), and removed
    /// once it has been one for `grace` seconds; a named one loses its mark.
    /// Pinned blobs too: an upload never attached to a listing goes after the
    /// grace. Returns the removed hashes.
    pub fn collect(
        &self,
        named: &HashSet<BlobHash>,
        now: u64,
        grace: u64,
    ) -> Result<Vec<BlobHash>> {
        let mut removed = Vec::new();
        for (hash, entry) in self.entries()? {
            let orphan_since = match (named.contains(&hash), entry.orphan_since) {
                (true, None) => continue,
                (true, Some(_)) => None,
                (false, Some(since)) if now.saturating_sub(since) >= grace => {
                    self.remove(&hash)?;
                    removed.push(hash);
                    continue;
                }
                (false, Some(_)) => continue,
                (false, None) => Some(now),
            };
            self.put_entry(
                &hash,
                &BlobEntry {
                    orphan_since,
                    ..entry
                },
            )?;
        }
        Ok(removed)
    }
}
