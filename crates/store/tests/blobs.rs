//! The blob store: real files in a temporary directory and a real sled database.

use std::fs;

use swapmesh_protocol::BlobHash;
use swapmesh_store::{BlobStore, Store, StoreError, StoreOptions};

fn blob(n: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| n.wrapping_add(i as u8)).collect()
}

fn hash(bytes: &[u8]) -> BlobHash {
    BlobHash(*blake3::hash(bytes).as_bytes())
}

fn open(dir: &tempfile::TempDir) -> (Store, BlobStore) {
    let store = Store::open(dir.path().join("db"), StoreOptions::default()).unwrap();
    let blobs = store.blobs(dir.path().join("blobs")).unwrap();
    (store, blobs)
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, blobs) = open(&dir);
    let bytes = blob(1, 1000);
    let h = blobs.put(&bytes, false).unwrap();
    assert_eq!(h, hash(&bytes));
    assert!(blobs.contains(&h).unwrap());
    assert_eq!(blobs.get(&h).unwrap().as_deref(), Some(&bytes[..]));
    assert_eq!(fs::read(blobs.path_of(&h)).unwrap(), bytes);
    assert_eq!(
        blobs.path_of(&h),
        dir.path().join("blobs").join(h.to_string())
    );
    assert_eq!(blobs.held_bytes().unwrap(), 1000);
    assert_eq!(blobs.entry(&h).unwrap().unwrap().size, 1000);

    // Putting the same bytes again keeps one blob; a pinned put pins it.
    assert_eq!(blobs.put(&bytes, true).unwrap(), h);
    assert_eq!(blobs.len(), 1);
    assert!(blobs.entry(&h).unwrap().unwrap().pinned);

    let other = blobs.put(&blob(2, 10), false).unwrap();
    assert_eq!(blobs.held_bytes().unwrap(), 1010);
    assert!(blobs.remove(&h).unwrap());
    assert!(!blobs.remove(&h).unwrap());
    assert!(!blobs.contains(&h).unwrap());
    assert_eq!(blobs.get(&h).unwrap(), None);
    assert!(!blobs.path_of(&h).exists());
    assert_eq!(blobs.held_bytes().unwrap(), 10);
    assert!(blobs.get(&other).unwrap().is_some());
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(blobs.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![other.to_string()]);
}

#[test]
fn corrupted_file_is_detected_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, blobs) = open(&dir);
    let h = blobs.put(&blob(3, 500), false).unwrap();
    // A flipped byte on disk.
    let mut bytes = fs::read(blobs.path_of(&h)).unwrap();
    bytes[100] ^= 0xff;
    fs::write(blobs.path_of(&h), &bytes).unwrap();

    let err = blobs.get(&h).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(&h.to_string()), "{err}");
    assert!(!blobs.contains(&h).unwrap());
    assert!(!blobs.path_of(&h).exists());
    assert_eq!(blobs.get(&h).unwrap(), None);
    assert_eq!(blobs.held_bytes().unwrap(), 0);

    // Fetched again, it is whole.
    assert_eq!(blobs.put(&blob(3, 500), false).unwrap(), h);
    assert_eq!(blobs.get(&h).unwrap(), Some(blob(3, 500)));
}

#[test]
fn evict_to_removes_least_recently_used_unkept_blobs_first_and_never_a_kept_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, blobs) = open(&dir);
    let a = blobs.put(&blob(10, 100), false).unwrap();
    let b = blobs.put(&blob(11, 100), false).unwrap();
    let c = blobs.put(&blob(12, 100), false).unwrap();
    let d = blobs.put(&blob(13, 100), true).unwrap(); // pinned (own)
    let e = blobs.put(&blob(14, 100), false).unwrap();
    // Reading a makes it the most recently used: b, c, d, e, a.
    blobs.get(&a).unwrap().unwrap();
    assert_eq!(blobs.held_bytes().unwrap(), 500);

    // Under budget: nothing goes.
    assert!(blobs.evict_to(500, |_| false).unwrap().is_empty());

    // b is kept by the caller (an agreement's), d is pinned: c then e go.
    let removed = blobs.evict_to(300, |h| *h == b).unwrap();
    assert_eq!(removed, vec![c, e]);
    assert_eq!(blobs.held_bytes().unwrap(), 300);
    for h in [a, b, d] {
        assert!(blobs.contains(&h).unwrap());
        assert!(blobs.path_of(&h).exists());
    }
    for h in [c, e] {
        assert!(!blobs.contains(&h).unwrap());
        assert!(!blobs.path_of(&h).exists());
    }

    // Down to nothing: everything unpinned goes, oldest first; the pinned one
    // stays even though that leaves the store over budget.
    let removed = blobs.evict_to(0, |_| false).unwrap();
    assert_eq!(removed, vec![b, a]);
    assert_eq!(blobs.entries().unwrap().len(), 1);
    assert!(blobs.get(&d).unwrap().is_some());

    // Unpinned, it can go too.
    assert!(blobs.set_pinned(&d, false).unwrap());
    assert_eq!(blobs.evict_to(0, |_| false).unwrap(), vec![d]);
    assert!(blobs.is_empty());
}

#[test]
fn last_use_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let (store, blobs) = open(&dir);
        let a = blobs.put(&blob(20, 50), false).unwrap();
        let b = blobs.put(&blob(21, 50), false).unwrap();
        blobs.get(&a).unwrap().unwrap();
        store.flush_blocking().unwrap();
        (a, b)
    };
    let (_store, blobs) = open(&dir);
    let c = blobs.put(&blob(22, 50), false).unwrap();
    // b is the oldest use, then a (read before the restart), then c.
    assert_eq!(blobs.evict_to(0, |_| false).unwrap(), vec![b, a, c]);
}

#[test]
fn a_reopen_repairs_the_index_against_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let blob_dir = dir.path().join("blobs");
    let (kept, lost_file, unindexed) = {
        let (store, blobs) = open(&dir);
        let kept = blobs.put(&blob(30, 200), true).unwrap();
        let lost_file = blobs.put(&blob(31, 200), false).unwrap();
        store.flush_blocking().unwrap();
        // An index entry whose file is gone...
        fs::remove_file(blobs.path_of(&lost_file)).unwrap();
        // ...a file without an entry (a put whose entry never reached disk)...
        let unindexed = hash(&blob(32, 200));
        fs::write(blobs.path_of(&unindexed), blob(32, 200)).unwrap();
        // ...an unfinished write, and a file that is not a blob.
        fs::write(blob_dir.join(".tmp-blob-abc123"), b"half").unwrap();
        fs::write(blob_dir.join("notes.txt"), b"not a blob").unwrap();
        (kept, lost_file, unindexed)
    };

    let (_store, blobs) = open(&dir);
    assert!(!blobs.contains(&lost_file).unwrap());
    assert!(!blobs.contains(&unindexed).unwrap());
    assert!(!blob_dir.join(unindexed.to_string()).exists());
    assert!(!blob_dir.join(".tmp-blob-abc123").exists());
    assert!(
        blob_dir.join("notes.txt").exists(),
        "only blob files are ours"
    );
    assert_eq!(blobs.get(&kept).unwrap(), Some(blob(30, 200)));
    assert!(blobs.entry(&kept).unwrap().unwrap().pinned);
    assert_eq!(blobs.held_bytes().unwrap(), 200);
    // Index and files agree.
    let mut files: Vec<_> = fs::read_dir(&blob_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "notes.txt")
        .collect();
    files.sort();
    let indexed: Vec<_> = blobs
        .entries()
        .unwrap()
        .into_iter()
        .map(|(h, _)| h.to_string())
        .collect();
    assert_eq!(files, indexed);
}

#[test]
fn a_file_lost_while_running_is_found_on_its_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, blobs) = open(&dir);
    let h = blobs.put(&blob(40, 300), false).unwrap();
    fs::remove_file(blobs.path_of(&h)).unwrap();
    assert!(blobs.contains(&h).unwrap());
    assert_eq!(blobs.get(&h).unwrap(), None);
    assert!(!blobs.contains(&h).unwrap());
    assert_eq!(blobs.held_bytes().unwrap(), 0);
    // And a put brings it back.
    assert_eq!(blobs.put(&blob(40, 300), false).unwrap(), h);
    assert_eq!(blobs.get(&h).unwrap(), Some(blob(40, 300)));
}

#[test]
fn an_unnamed_blob_is_collected_after_the_grace_and_a_named_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, blobs) = open(&dir);
    let named = blobs.put(&blob(50, 100), false).unwrap();
    let orphan = blobs.put(&blob(51, 100), true).unwrap();
    blobs.put_thumb(&orphan, b"thumb").unwrap();
    let names: std::collections::HashSet<_> = [named].into();

    // First sweep: the orphan is marked, nothing removed.
    assert!(blobs.collect(&names, 1_000, 100).unwrap().is_empty());
    assert_eq!(
        blobs.entry(&orphan).unwrap().unwrap().orphan_since,
        Some(1_000)
    );
    assert_eq!(blobs.entry(&named).unwrap().unwrap().orphan_since, None);
    // Within the grace: still held.
    assert!(blobs.collect(&names, 1_099, 100).unwrap().is_empty());
    assert!(blobs.contains(&orphan).unwrap());
    // Named again in time: the mark goes.
    let both: std::collections::HashSet<_> = [named, orphan].into();
    assert!(blobs.collect(&both, 1_050, 100).unwrap().is_empty());
    assert_eq!(blobs.entry(&orphan).unwrap().unwrap().orphan_since, None);
    // Unnamed again, and the grace passes: removed, pinned or not, thumbnail too.
    assert!(blobs.collect(&names, 2_000, 100).unwrap().is_empty());
    assert_eq!(blobs.collect(&names, 2_100, 100).unwrap(), vec![orphan]);
    assert!(!blobs.contains(&orphan).unwrap());
    assert!(!blobs.path_of(&orphan).exists());
    assert!(!blobs.thumb_path_of(&orphan).exists());
    assert!(blobs.contains(&named).unwrap());
}

#[test]
fn a_thumbnail_without_its_blob_is_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let kept;
    let gone;
    {
        let (store, blobs) = open(&dir);
        kept = blobs.put(&blob(60, 100), false).unwrap();
        gone = blobs.put(&blob(61, 100), false).unwrap();
        blobs.put_thumb(&kept, b"a").unwrap();
        blobs.put_thumb(&gone, b"b").unwrap();
        store.flush_blocking().unwrap();
    }
    // The blob file goes behind the store's back; its thumbnail is left.
    fs::remove_file(dir.path().join("blobs").join(gone.to_string())).unwrap();
    let (_store, blobs) = open(&dir);
    assert_eq!(blobs.thumb(&kept).unwrap().as_deref(), Some(&b"a"[..]));
    assert!(!blobs.thumb_path_of(&gone).exists());
    assert_eq!(blobs.thumb(&gone).unwrap(), None);
}
