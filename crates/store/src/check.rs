//! Cross-checking every index against the records: for tests, after a crash, and
//! for a node that wants to verify its database (`swapmesh` could offer it as a
//! command).

use std::collections::BTreeMap;

use swapmesh_protocol::{RecordId, Timestamp, topics};
use swapmesh_sync::{Item, Summary};

use crate::agreements::{decode_agreement, decode_event};
use crate::body::decode_stored;
use crate::calendar::decode_calendar;
use crate::error::Result;
use crate::keys::{
    AddressEntry, BucketSum, Index, address_key, bucket_key_of, event_key, expiry_key,
    index_entries, sweep_time, topic_prefix,
};
use crate::outbox::OutboxKey;
use crate::quota::{Members, quota_key};
use crate::store::Store;
use swapmesh_protocol::AgreementId;

/// Most problems a check lists.
const MAX_PROBLEMS: usize = 100;

/// What [`Store::check_consistency`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consistency {
    /// Stored records (tombstones included).
    pub records: usize,
    /// Stored tombstones.
    pub tombstones: usize,
    /// Address entries.
    pub addresses: usize,
    /// Addresses whose current record expired but that still block older versions.
    pub fences: usize,
    /// Entries in the index trees (`by_topic`, `by_author`, `by_party`, `expiry`).
    pub index_entries: usize,
    /// Bucket entries in `sync_sums`.
    pub sync_buckets: usize,
    /// Stored agreements.
    pub agreements: usize,
    /// Stored agreement events.
    pub agreement_events: usize,
    /// Items with a calendar.
    pub calendars: usize,
    /// Outbox entries.
    pub outbox: usize,
    /// Each disagreement found (at most 100); empty when consistent.
    pub problems: Vec<String>,
}

impl Consistency {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

impl Store {
    /// Reads the whole database and checks that every record decodes and hashes to
    /// its key, is the current version of its address, and has exactly its index
    /// entries (under the topics whose quota keeps it, at least one); that the
    /// quotas list exactly the stored records they keep; that no index entry is
    /// left over; that every address is backed by a
    /// record or an expiry fence; and that every `sync_sums` bucket holds exactly
    /// the count and id sum of its `by_topic` items. Then the agreements: every
    /// value decodes under its id, its stored events are exactly its chain (each
    /// decoding to the id at its position), every calendar decodes with its
    /// windows in order and names stored agreements only, and every outbox key is
    /// well formed. Reads everything: for tests and repair tools, not for a hot
    /// path. `Err` only when reading fails.
    pub fn check_consistency(&self) -> Result<Consistency> {
        let open = self.o()?;
        let t = &open.trees;
        let mut report = Consistency::default();
        let mut expected: BTreeMap<Index, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
        let mut expected_expiry: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut sums: BTreeMap<Vec<u8>, Summary> = BTreeMap::new();
        let mut expected_members: BTreeMap<Vec<u8>, Vec<(Timestamp, RecordId)>> = BTreeMap::new();

        for kv in t.records.iter() {
            let (k, v) = kv?;
            report.records += 1;
            let Ok(id) = <[u8; 32]>::try_from(k.as_ref()).map(RecordId) else {
                report.problem(format!("record key of {} bytes", k.len()));
                continue;
            };
            let record = match decode_stored(id, &v) {
                Ok(r) => r,
                Err(e) => {
                    report.problem(format!("record {id}: {e}"));
                    continue;
                }
            };
            if record.signed.id() != id {
                report.problem(format!("record {id} hashes to {}", record.signed.id()));
            }
            let body = &record.body;
            let mut unkept = Vec::new();
            if body.is_tombstone() {
                report.tombstones += 1;
            }
            let akey = address_key(&body.address());
            let address = t
                .addresses
                .get(&akey)?
                .and_then(|a| AddressEntry::decode(&a));
            let fence = match address {
                Some(a) if a.id == id && a.seq == body.seq && a.fence >= body.expires_at => a.fence,
                other => {
                    report.problem(format!(
                        "record {id} is not current at its address: {other:?}"
                    ));
                    body.expires_at
                }
            };
            let mut kept_somewhere = false;
            for topic in topics(body) {
                let key = quota_key(&body.author, &topic);
                let members = t.quotas.get(&key)?.and_then(|v| Members::decode(&v));
                if members.is_some_and(|m| m.contains(body.created_at, &id)) {
                    kept_somewhere = true;
                    expected_members
                        .entry(key)
                        .or_default()
                        .push((body.created_at, id));
                } else {
                    unkept.push(topic_prefix(&topic));
                }
            }
            if !kept_somewhere && !topics(body).is_empty() {
                report.problem(format!("record {id} is kept by none of its quotas"));
            }
            for e in index_entries(body, &id) {
                if e.index == Index::Topic && unkept.iter().any(|p| e.key.starts_with(p)) {
                    continue;
                }
                if e.index == Index::Topic
                    && let Some(bucket) = bucket_key_of(&e.key, t.bucket_bits)
                {
                    let sum = sums.entry(bucket).or_default();
                    *sum = *sum + Summary::of(&Item::new(body.created_at, id));
                }
                expected.entry(e.index).or_default().insert(e.key, e.value);
            }
            expected_expiry.insert(
                expiry_key(sweep_time(body, fence), &id).to_vec(),
                Vec::new(),
            );
        }

        for kv in t.addresses.iter() {
            let (k, v) = kv?;
            report.addresses += 1;
            let Some(a) = AddressEntry::decode(&v) else {
                report.problem(format!("undecodable address entry {}", hex::encode(&k)));
                continue;
            };
            if !t.records.contains_key(a.id.0)? {
                report.fences += 1;
                expected_expiry.insert(expiry_key(a.fence, &a.id).to_vec(), k.to_vec());
            }
        }

        for index in Index::ALL {
            let want = expected.remove(&index).unwrap_or_default();
            let tree = t.index(index);
            report.index_entries += compare(&mut report, &format!("{index:?}"), tree, &want)?;
        }
        report.index_entries += compare(&mut report, "expiry", &t.expiry, &expected_expiry)?;
        for kv in t.quotas.iter() {
            let (k, v) = kv?;
            let Some(members) = Members::decode(&v) else {
                report.problem(format!(
                    "quotas: undecodable members at {}",
                    hex::encode(&k)
                ));
                continue;
            };
            let mut stored = expected_members.remove(k.as_ref()).unwrap_or_default();
            let mut listed: Vec<_> = members.iter().copied().collect();
            stored.sort();
            listed.sort();
            if stored != listed {
                report.problem(format!(
                    "quotas: {} lists {} members, {} of its records are stored",
                    hex::encode(&k),
                    listed.len(),
                    stored.len()
                ));
            }
        }
        for k in expected_members.keys() {
            report.problem(format!("quotas: missing entry {}", hex::encode(k)));
        }
        let expected_sums = sums
            .into_iter()
            .map(|(k, s)| (k, BucketSum(s).encode().to_vec()))
            .collect();
        report.sync_buckets = compare(&mut report, "sync_sums", &t.sync_sums, &expected_sums)?;
        self.check_agreements(&mut report)?;
        Ok(report)
    }

    /// The agreement half of [`Store::check_consistency`].
    fn check_agreements(&self, report: &mut Consistency) -> Result<()> {
        let open = self.o()?;
        let t = &open.trees;
        let mut ids = std::collections::BTreeSet::new();
        // Agreements whose value does not decode: their events are not stray.
        let mut unreadable = std::collections::BTreeSet::new();
        let mut expected_events = BTreeMap::new();
        for kv in t.agreements.iter() {
            let (k, v) = kv?;
            report.agreements += 1;
            let Ok(id) = <[u8; 32]>::try_from(k.as_ref()).map(AgreementId) else {
                report.problem(format!("agreement key of {} bytes", k.len()));
                continue;
            };
            ids.insert(id);
            let stored = match decode_agreement(&id, &v) {
                Ok(s) => s,
                Err(e) => {
                    report.problem(e.to_string());
                    unreadable.insert(id);
                    continue;
                }
            };
            for (i, event_id) in stored.state.chain.iter().enumerate() {
                let key = u32::try_from(i).map(|i| event_key(&id, i).to_vec());
                if let Ok(key) = key {
                    expected_events.insert(key, (id, i, *event_id));
                }
            }
        }
        for kv in t.agreement_events.iter() {
            let (k, v) = kv?;
            report.agreement_events += 1;
            let Some((id, i, event_id)) = expected_events.remove(k.as_ref()) else {
                let owner = k.get(..32).and_then(|o| <[u8; 32]>::try_from(o).ok());
                if owner.is_some_and(|o| unreadable.contains(&AgreementId(o))) {
                    continue;
                }
                report.problem(format!("agreement_events: stray entry {}", hex::encode(&k)));
                continue;
            };
            match decode_event(&id, i, &v) {
                Ok(e) if e.id() == event_id => {}
                Ok(e) => report.problem(format!(
                    "event {i} of agreement {id} is {}, its chain says {event_id}",
                    e.id()
                )),
                Err(e) => report.problem(e.to_string()),
            }
        }
        for (id, i, _) in expected_events.values() {
            report.problem(format!("event {i} of agreement {id} is missing"));
        }
        for kv in t.calendars.iter() {
            let (k, v) = kv?;
            report.calendars += 1;
            match decode_calendar(&hex::encode(&k), &v) {
                Ok(c) if c.is_empty() => {
                    report.problem(format!("empty calendar {}", hex::encode(&k)))
                }
                Ok(c) => {
                    for (_, a) in c.entries() {
                        if !ids.contains(a) {
                            report.problem(format!(
                                "calendar {} holds for {a}, which is not stored",
                                hex::encode(&k)
                            ));
                        }
                    }
                }
                Err(e) => report.problem(e.to_string()),
            }
        }
        for k in t.outbox.iter().keys() {
            let k = k?;
            report.outbox += 1;
            if OutboxKey::from_bytes(&k).is_none() {
                report.problem(format!("outbox key of {} bytes", k.len()));
            }
        }
        Ok(())
    }
}

/// Compares a tree with the entries it should hold exactly; returns its length.
fn compare(
    report: &mut Consistency,
    name: &str,
    tree: &sled::Tree,
    want: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<usize> {
    let mut seen = 0;
    for kv in tree.iter() {
        let (k, v) = kv?;
        seen += 1;
        match want.get(k.as_ref()) {
            None => report.problem(format!("{name}: stray entry {}", hex::encode(&k))),
            Some(w) if w.as_slice() != v.as_ref() => {
                report.problem(format!("{name}: wrong value at {}", hex::encode(&k)))
            }
            Some(_) => {}
        }
    }
    for k in want.keys() {
        if !tree.contains_key(k)? {
            report.problem(format!("{name}: missing entry {}", hex::encode(k)));
        }
    }
    Ok(seen)
}
