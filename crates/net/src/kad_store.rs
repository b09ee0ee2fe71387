//! [`KadStore`]: the Kademlia record store, made so nobody can fill it.
//!
//! swapmesh uses the DHT for two things only: routing, and provider records
//! under sha256(topic) (DESIGN §4). libp2p's `MemoryStore` takes any value
//! record and counts our own provided keys and everyone else's under one limit,
//! so strangers' records could make our own `start_providing` fail. Here:
//!
//! - value records are refused (`put` always fails and `get` finds nothing;
//!   the behaviour runs with `StoreInserts::FilterBoth`, so an inbound put
//!   never even reaches the store);
//! - others' provider records are accepted for any key (a topic's providers
//!   live on the peers closest to its key, mostly non-members), at most
//!   [`KadLimits::keys_per_provider`] keys per providing peer and
//!   [`KadLimits::provider_records`] records in all, each with at most
//!   [`KadLimits::addresses_per_record`] addresses; expired ones are dropped to
//!   make room;
//! - our own provided keys live apart, uncapped (one per joined topic, and
//!   topics are capped by the app).

use std::{
    borrow::Cow,
    collections::{HashMap, hash_map},
    time::Instant,
};

use libp2p::{
    PeerId,
    kad::{
        K_VALUE, ProviderRecord, Record, RecordKey,
        store::{Error, RecordStore, Result},
    },
};

/// Caps on others' provider records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KadLimits {
    /// Keys one peer may provide in our store (default 64: a node is in a
    /// handful of areas and meshes).
    pub keys_per_provider: usize,
    /// Others' provider records in all (default 8192, a few MiB at most).
    pub provider_records: usize,
    /// Addresses kept per provider record (default 4).
    pub addresses_per_record: usize,
}

impl Default for KadLimits {
    fn default() -> Self {
        Self {
            keys_per_provider: 64,
            provider_records: 8192,
            addresses_per_record: 4,
        }
    }
}

/// What the store holds, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KadStoreStats {
    /// Keys we provide ourselves.
    pub own_keys: usize,
    /// Others' provider records.
    pub provider_records: usize,
    /// Peers with at least one provider record here.
    pub providers: usize,
    /// Provider records refused since start (a peer or the store at its cap).
    pub refused: u64,
}

/// The store (see the module docs).
#[derive(Debug)]
pub(crate) struct KadStore {
    local: PeerId,
    limits: KadLimits,
    /// Our own provider records, by key.
    own: HashMap<RecordKey, ProviderRecord>,
    /// Others' provider records, by key (at most `K_VALUE` per key).
    others: HashMap<RecordKey, Vec<ProviderRecord>>,
    /// Keys each peer provides here.
    per_provider: HashMap<PeerId, usize>,
    records: usize,
    refused: u64,
}

impl KadStore {
    /// An empty store for the node `local`.
    pub(crate) fn new(local: PeerId, limits: KadLimits) -> Self {
        Self {
            local,
            limits,
            own: HashMap::new(),
            others: HashMap::new(),
            per_provider: HashMap::new(),
            records: 0,
            refused: 0,
        }
    }

    /// What the store holds.
    pub(crate) fn stats(&self) -> KadStoreStats {
        KadStoreStats {
            own_keys: self.own.len(),
            provider_records: self.records,
            providers: self.per_provider.len(),
            refused: self.refused,
        }
    }

    /// Drops every expired record of others.
    fn drop_expired(&mut self, now: Instant) {
        let expired: Vec<(RecordKey, PeerId)> = self
            .others
            .iter()
            .flat_map(|(key, records)| {
                records
                    .iter()
                    .filter(|r| r.is_expired(now))
                    .map(|r| (key.clone(), r.provider))
            })
            .collect();
        for (key, provider) in expired {
            self.remove_provider(&key, &provider);
        }
    }

    fn refuse(&mut self) -> Result<()> {
        self.refused += 1;
        Err(Error::MaxProvidedKeys)
    }
}

impl RecordStore for KadStore {
    type RecordsIter<'a> = std::iter::Empty<Cow<'a, Record>>;
    type ProvidedIter<'a> = std::iter::Map<
        hash_map::Values<'a, RecordKey, ProviderRecord>,
        fn(&'a ProviderRecord) -> Cow<'a, ProviderRecord>,
    >;

    fn get(&self, _key: &RecordKey) -> Option<Cow<'_, Record>> {
        None
    }

    /// Value records are not swapmesh's business.
    fn put(&mut self, _record: Record) -> Result<()> {
        Err(Error::MaxRecords)
    }

    fn remove(&mut self, _key: &RecordKey) {}

    fn records(&self) -> Self::RecordsIter<'_> {
        std::iter::empty()
    }

    fn add_provider(&mut self, mut record: ProviderRecord) -> Result<()> {
        if record.provider == self.local {
            self.own.insert(record.key.clone(), record);
            return Ok(());
        }
        record.addresses.truncate(self.limits.addresses_per_record);
        let provider = record.provider;
        if let Some(records) = self.others.get_mut(&record.key)
            && let Some(existing) = records.iter_mut().find(|r| r.provider == provider)
        {
            // A refresh: same key, same provider.
            *existing = record;
            return Ok(());
        }
        let provided = self.per_provider.get(&provider).copied().unwrap_or(0);
        if provided >= self.limits.keys_per_provider {
            return self.refuse();
        }
        if self.records >= self.limits.provider_records {
            self.drop_expired(Instant::now());
            if self.records >= self.limits.provider_records {
                return self.refuse();
            }
        }
        let records = self.others.entry(record.key.clone()).or_default();
        if records.len() >= K_VALUE.get() {
            // As MemoryStore: the first K providers of a key are kept.
            return Ok(());
        }
        records.push(record);
        *self.per_provider.entry(provider).or_default() += 1;
        self.records += 1;
        Ok(())
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        let own = self.own.get(key).cloned();
        let others = self.others.get(key).into_iter().flatten().cloned();
        own.into_iter().chain(others).collect()
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.own.values().map(Cow::Borrowed)
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        if *provider == self.local {
            self.own.remove(key);
            return;
        }
        let hash_map::Entry::Occupied(mut entry) = self.others.entry(key.clone()) else {
            return;
        };
        let records = entry.get_mut();
        let Some(at) = records.iter().position(|r| r.provider == *provider) else {
            return;
        };
        records.remove(at);
        if records.is_empty() {
            entry.remove();
        }
        self.records -= 1;
        if let hash_map::Entry::Occupied(mut count) = self.per_provider.entry(*provider) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn key(n: u32) -> RecordKey {
        RecordKey::new(&n.to_be_bytes())
    }

    fn record(n: u32, provider: PeerId) -> ProviderRecord {
        ProviderRecord::new(key(n), provider, Vec::new())
    }

    #[test]
    fn a_peer_provides_at_most_its_keys_and_refreshes_them() {
        let me = PeerId::random();
        let mut store = KadStore::new(me, KadLimits::default());
        let greedy = PeerId::random();
        for n in 0..64 {
            store.add_provider(record(n, greedy)).unwrap();
        }
        assert!(store.add_provider(record(64, greedy)).is_err());
        // Refreshing a key it has is fine; another peer is not affected.
        store.add_provider(record(3, greedy)).unwrap();
        store.add_provider(record(64, PeerId::random())).unwrap();
        assert_eq!(store.stats().provider_records, 65);
        assert_eq!(store.stats().refused, 1);
    }

    #[test]
    fn others_never_crowd_out_our_own_keys() {
        let me = PeerId::random();
        let limits = KadLimits {
            provider_records: 10,
            ..KadLimits::default()
        };
        let mut store = KadStore::new(me, limits);
        for n in 0..20 {
            let _ = store.add_provider(record(n, PeerId::random()));
        }
        assert_eq!(store.stats().provider_records, 10);
        for n in 100..2000 {
            store.add_provider(record(n, me)).unwrap();
        }
        assert_eq!(store.provided().count(), 1900);
        assert_eq!(store.providers(&key(100))[0].provider, me);
        store.remove_provider(&key(100), &me);
        assert!(store.providers(&key(100)).is_empty());
    }

    #[test]
    fn a_full_store_makes_room_by_dropping_expired_records() {
        let limits = KadLimits {
            provider_records: 2,
            ..KadLimits::default()
        };
        let mut store = KadStore::new(PeerId::random(), limits);
        let mut old = record(1, PeerId::random());
        old.expires = Some(Instant::now() - Duration::from_secs(1));
        store.add_provider(old).unwrap();
        store.add_provider(record(2, PeerId::random())).unwrap();
        store.add_provider(record(3, PeerId::random())).unwrap();
        assert!(store.providers(&key(1)).is_empty());
        assert_eq!(store.stats().provider_records, 2);
        assert!(store.add_provider(record(4, PeerId::random())).is_err());
    }

    #[test]
    fn value_records_are_refused() {
        let mut store = KadStore::new(PeerId::random(), KadLimits::default());
        let record = Record::new(key(1), b"spam".to_vec());
        assert!(store.put(record).is_err());
        assert!(store.get(&key(1)).is_none());
        assert_eq!(store.records().count(), 0);
    }
}
