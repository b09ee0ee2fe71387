//! Listings by the start of their id: the short ids people type (DESIGN §7).

use swapmesh_protocol::{AuthorKey, ListingId, ListingIdPrefix, RecordKind, Timestamp};

use crate::body::StoredRecord;
use crate::error::{Result, StoreError};
use crate::keys::AddressEntry;
use crate::store::Store;

impl Store {
    /// The live listings (not withdrawn, not expired at `now`) whose id
    /// `<author-hex>.<d>` starts with `prefix`, newest first, at most `limit`.
    ///
    /// Scans the `addresses` entries under the prefix's whole author bytes (the
    /// whole author and the name's start when the prefix names both), so a prefix
    /// of 8 hex characters reads the addresses of about one author in 4 billion.
    pub fn listings_by_id_prefix(
        &self,
        prefix: &ListingIdPrefix,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<StoredRecord>> {
        let mut scan = prefix.author_bytes().to_vec();
        if let Some(d) = prefix.name_prefix() {
            scan.push(RecordKind::Listing.code());
            scan.extend_from_slice(d.as_bytes());
        }
        let mut out = Vec::new();
        for kv in self.o()?.trees.addresses.scan_prefix(&scan) {
            let (key, value) = kv?;
            if key.len() < 33 || key[32] != RecordKind::Listing.code() {
                continue;
            }
            let author = AuthorKey(key[..32].try_into().expect("32 bytes"));
            let d = std::str::from_utf8(&key[33..])
                .map_err(|_| StoreError::corrupt("address key with a non-UTF-8 name"))?;
            let id = ListingId {
                author,
                d: d.to_owned(),
            };
            if !prefix.matches(&id) {
                continue;
            }
            let entry = AddressEntry::decode(&value)
                .ok_or_else(|| StoreError::corrupt("undecodable address entry"))?;
            let Some(record) = self.get(&entry.id)? else {
                continue;
            };
            if record.body.is_tombstone() || record.body.expires_at <= now {
                continue;
            }
            out.push(record);
        }
        out.sort_by_key(|r| std::cmp::Reverse((r.body.created_at, r.id)));
        out.truncate(limit);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use swapmesh_protocol::signed::author_of;
    use swapmesh_protocol::{Timestamp, fixtures};

    use super::*;

    #[test]
    fn listings_are_found_by_the_start_of_their_id_and_tombstones_are_not() {
        let store = Store::temporary().unwrap();
        let now = Timestamp(1_800_000_000);
        let (ana, ben) = (fixtures::key(1), fixtures::key(2));
        for (key, d) in [
            (&ana, "drill"),
            (&ana, "dryer"),
            (&ana, "tent"),
            (&ben, "drill"),
        ] {
            store
                .insert(&fixtures::verified_listing(key, d, "u4pru", now), now)
                .unwrap();
        }
        let ana_hex = author_of(&ana).to_string();
        let found = |prefix: &str| -> Vec<String> {
            let p: ListingIdPrefix = prefix.parse().unwrap();
            let mut ids: Vec<String> = store
                .listings_by_id_prefix(&p, now, 10)
                .unwrap()
                .iter()
                .map(|r| r.body.listing().unwrap().d.clone())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(found(&ana_hex[..8]), ["drill", "dryer", "tent"]);
        assert_eq!(found(&ana_hex[..9]), ["drill", "dryer", "tent"]);
        assert_eq!(found(&format!("{ana_hex}.dr")), ["drill", "dryer"]);
        assert_eq!(found(&format!("{ana_hex}.dri")), ["drill"]);

        let mut gone = fixtures::listing("tent");
        gone.status = swapmesh_protocol::listing::ListingStatus::Withdrawn;
        let mut body = fixtures::listing_body(author_of(&ana), "u4pru", gone, now);
        body.seq = 2;
        let tombstone = swapmesh_protocol::sign_own(&body, &ana, now).unwrap();
        store.insert(&tombstone, now).unwrap();
        assert_eq!(found(&ana_hex[..8]), ["drill", "dryer"]);
        let p: ListingIdPrefix = ana_hex[..8].parse().unwrap();
        assert!(
            store
                .listings_by_id_prefix(&p, now.plus(31 * 24 * 3600), 10)
                .unwrap()
                .is_empty(),
            "expired listings are left out"
        );
    }
}
