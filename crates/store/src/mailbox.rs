//! The `mailbox` tree: sealed mail, both as a host keeps it for others and as
//! a node keeps track of its own (issue 26). Envelopes are opaque bytes here;
//! the node verifies them before they come in.
//!
//! Key layout (one tree, a one-byte prefix per kind):
//!
//! | key | value | what |
//! |---|---|---|
//! | `M` ‖ recipient ‖ n (8, BE) | [`HeldMail`] | an envelope kept for `recipient` at position `n` |
//! | `I` ‖ envelope id | recipient ‖ n | where an envelope is, by id |
//! | `E` ‖ expires_at (8, BE) ‖ id | empty | envelopes by expiry |
//! | `R` ‖ recipient | [`MailTotals`] | a recipient's envelopes and bytes kept |
//! | `S` ‖ sender | [`MailTotals`] | a sender's envelopes and bytes kept |
//! | `A` ‖ recipient | empty | recipients the operator admitted |
//! | `C` ‖ host | after (8, BE) | the last position fetched from a host |
//! | `Q` ‖ seq (8, BE) | [`QueuedMail`] | mail of ours waiting to be put |
//! | `O` ‖ agreement | [`Mailed`] | the request of an agreement we left with a host |
//!
//! Positions come from `sled::Db::generate_id`: monotonic across recipients
//! and restarts, so a fetch cursor stays valid whatever was deleted.
//! A put, a delete and the totals change in one transaction: the quotas are
//! single values, read and written with the envelopes they count.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_protocol::{AgreementId, AuthorKey, Timestamp};

use crate::error::{Result, StoreError};
use crate::store::Store;

const HELD: u8 = b'M';
const BY_ID: u8 = b'I';
const BY_EXPIRY: u8 = b'E';
const RECIPIENT: u8 = b'R';
const SENDER: u8 = b'S';
const ADMITTED: u8 = b'A';
const CURSOR: u8 = b'C';
const QUEUED: u8 = b'Q';
const MAILED: u8 = b'O';

/// Most bytes of one stored value we read back.
const MAX_VALUE: usize = 2 * 1024 * 1024;

/// An envelope a host keeps.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct HeldMail {
    /// Its id (blake3 of its body).
    pub id: [u8; 32],
    /// Who sent it.
    pub sender: AuthorKey,
    /// When the host took it, by the host's clock.
    pub stored_at: Timestamp,
    /// When the host drops it.
    pub expires_at: Timestamp,
    /// The signed envelope, encoded.
    #[serde(with = "serde_bytes")]
    pub envelope: Vec<u8>,
}

/// Envelopes and bytes counted against a quota.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MailTotals {
    /// Envelopes.
    pub count: u32,
    /// Bytes of their encodings.
    pub bytes: u64,
}

/// What a host keeps at most, per recipient and per sender.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MailQuotas {
    /// Per recipient.
    pub recipient: MailTotals,
    /// Per sender.
    pub sender: MailTotals,
}

impl Default for MailQuotas {
    /// 256 envelopes and 4 MiB per recipient, 64 and 1 MiB per sender.
    fn default() -> Self {
        Self {
            recipient: MailTotals {
                count: 256,
                bytes: 4 * 1024 * 1024,
            },
            sender: MailTotals {
                count: 64,
                bytes: 1024 * 1024,
            },
        }
    }
}

/// What [`Store::mail_put`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MailPut {
    /// Kept at this position.
    Stored(u64),
    /// Already kept (the same envelope put again).
    Duplicate,
    /// The recipient's quota is full.
    RecipientQuota,
    /// The sender's quota is full.
    SenderQuota,
}

/// A recipient's mail, as the host's operator sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MailboxOf {
    /// The recipient.
    pub recipient: AuthorKey,
    /// Envelopes and bytes kept.
    pub totals: MailTotals,
    /// When the oldest was stored.
    pub oldest: Option<Timestamp>,
}

/// Mail of ours waiting to be put with one of `hosts`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct QueuedMail {
    /// The hosts to try, in order.
    pub hosts: Vec<AuthorKey>,
    /// The signed envelope, encoded.
    #[serde(with = "serde_bytes")]
    pub envelope: Vec<u8>,
    /// When it stops being worth sending.
    pub expires_at: Timestamp,
}

/// A request of ours left with a mail host.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Mailed {
    /// The outbox entry it carries (its sequence number).
    pub entry: u64,
    /// blake3 of the request's encoding.
    pub request: [u8; 32],
    /// The host that stored it.
    pub host: AuthorKey,
    /// When it stored it (our clock).
    pub since: Timestamp,
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![prefix];
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

fn decode<T: Serialize + serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    decode_canonical(bytes, MAX_VALUE).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

fn totals_in(
    tree: &TransactionalTree,
    key: &[u8],
) -> sled::transaction::ConflictableTransactionResult<MailTotals, StoreError> {
    match tree.get(key)? {
        None => Ok(MailTotals::default()),
        Some(v) => decode("mail totals", &v).map_err(ConflictableTransactionError::Abort),
    }
}

fn put_totals(
    tree: &TransactionalTree,
    key: &[u8],
    totals: MailTotals,
) -> sled::transaction::ConflictableTransactionResult<(), StoreError> {
    if totals.count == 0 {
        tree.remove(key)?;
    } else {
        tree.insert(key, encode(&totals))?;
    }
    Ok(())
}

/// Removes the held envelope at `held_key` (and its indexes and counts).
fn remove_in(
    tree: &TransactionalTree,
    held_key: &[u8],
) -> sled::transaction::ConflictableTransactionResult<bool, StoreError> {
    let Some(v) = tree.remove(held_key)? else {
        return Ok(false);
    };
    let held: HeldMail = decode("held mail", &v).map_err(ConflictableTransactionError::Abort)?;
    let recipient = &held_key[1..33];
    let bytes = held.envelope.len() as u64;
    tree.remove(key(BY_ID, &[&held.id]))?;
    tree.remove(key(
        BY_EXPIRY,
        &[&held.expires_at.0.to_be_bytes(), &held.id],
    ))?;
    for k in [key(RECIPIENT, &[recipient]), key(SENDER, &[&held.sender.0])] {
        let mut t = totals_in(tree, &k)?;
        t.count = t.count.saturating_sub(1);
        t.bytes = t.bytes.saturating_sub(bytes);
        put_totals(tree, &k, t)?;
    }
    Ok(true)
}

impl Store {
    fn mailbox(&self) -> Result<sled::Tree> {
        Ok(self.o()?.trees.mailbox.clone())
    }

    /// Keeps `held` for `recipient` unless a quota is full, in one
    /// transaction with the totals. Not durable on return: flush before
    /// acknowledging.
    pub fn mail_put(
        &self,
        recipient: &AuthorKey,
        held: &HeldMail,
        quotas: &MailQuotas,
    ) -> Result<MailPut> {
        let open = self.o()?;
        // From 1: position 0 means "none yet" to a fetch.
        let position = open.db.generate_id()? + 1;
        let tree = &open.trees.mailbox;
        let value = encode(held);
        let bytes = held.envelope.len() as u64;
        Ok(tree.transaction(|tx| {
            if tx.get(key(BY_ID, &[&held.id]))?.is_some() {
                return Ok(MailPut::Duplicate);
            }
            let r_key = key(RECIPIENT, &[&recipient.0]);
            let s_key = key(SENDER, &[&held.sender.0]);
            let mut r = totals_in(tx, &r_key)?;
            let mut s = totals_in(tx, &s_key)?;
            if r.count >= quotas.recipient.count || r.bytes + bytes > quotas.recipient.bytes {
                return Ok(MailPut::RecipientQuota);
            }
            if s.count >= quotas.sender.count || s.bytes + bytes > quotas.sender.bytes {
                return Ok(MailPut::SenderQuota);
            }
            let n = position.to_be_bytes();
            tx.insert(key(HELD, &[&recipient.0, &n]), value.as_slice())?;
            tx.insert(
                key(BY_ID, &[&held.id]),
                [recipient.0.as_slice(), &n].concat(),
            )?;
            tx.insert(
                key(BY_EXPIRY, &[&held.expires_at.0.to_be_bytes(), &held.id]),
                &[][..],
            )?;
            r.count += 1;
            r.bytes += bytes;
            s.count += 1;
            s.bytes += bytes;
            put_totals(tx, &r_key, r)?;
            put_totals(tx, &s_key, s)?;
            Ok(MailPut::Stored(position))
        })?)
    }

    /// `recipient`'s mail after position `after`, oldest first, at most
    /// `max_bytes` of envelopes (at least one), and whether more follow.
    pub fn mail_for(
        &self,
        recipient: &AuthorKey,
        after: u64,
        max_bytes: usize,
    ) -> Result<(Vec<(u64, HeldMail)>, bool)> {
        let tree = self.mailbox()?;
        let start = key(
            HELD,
            &[&recipient.0, &after.saturating_add(1).to_be_bytes()],
        );
        let end = key(HELD, &[&recipient.0, &u64::MAX.to_be_bytes()]);
        let mut out = Vec::new();
        let mut size = 0;
        for kv in tree.range(start..=end) {
            let (k, v) = kv?;
            let held: HeldMail = decode("held mail", &v)?;
            if !out.is_empty() && size + held.envelope.len() > max_bytes {
                return Ok((out, true));
            }
            size += held.envelope.len();
            let n = u64::from_be_bytes(
                k[33..41]
                    .try_into()
                    .map_err(|_| StoreError::corrupt("a held mail key"))?,
            );
            out.push((n, held));
        }
        Ok((out, false))
    }

    /// Drops `recipient`'s envelopes among `ids` (others' are left alone);
    /// returns how many went. Not durable on return.
    pub fn mail_delete(&self, recipient: &AuthorKey, ids: &[[u8; 32]]) -> Result<usize> {
        let tree = self.mailbox()?;
        Ok(tree.transaction(|tx| {
            let mut gone = 0;
            for id in ids {
                let Some(at) = tx.get(key(BY_ID, &[id]))? else {
                    continue;
                };
                if at.len() != 40 || at[..32] != recipient.0 {
                    continue;
                }
                if remove_in(tx, &key(HELD, &[&at]))? {
                    gone += 1;
                }
            }
            Ok(gone)
        })?)
    }

    /// Drops all of `recipient`'s mail; returns how many envelopes went.
    pub fn mail_drop_recipient(&self, recipient: &AuthorKey) -> Result<usize> {
        let tree = self.mailbox()?;
        let keys: Vec<sled::IVec> = tree
            .scan_prefix(key(HELD, &[&recipient.0]))
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        let mut gone = 0;
        for k in keys {
            if tree.transaction(|tx| remove_in(tx, &k))? {
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// Drops the envelopes expired at `now`; returns how many went.
    pub fn mail_expire(&self, now: Timestamp) -> Result<usize> {
        let tree = self.mailbox()?;
        let end = key(BY_EXPIRY, &[&now.0.to_be_bytes(), &[0xff; 32]]);
        let expired: Vec<[u8; 32]> = tree
            .range(vec![BY_EXPIRY]..=end)
            .keys()
            .map(|k| {
                let k = k?;
                k.get(9..41)
                    .and_then(|id| id.try_into().ok())
                    .ok_or_else(|| StoreError::corrupt("a mail expiry key"))
            })
            .collect::<Result<_>>()?;
        let mut gone = 0;
        for id in expired {
            gone += tree.transaction(|tx| {
                let Some(at) = tx.get(key(BY_ID, &[&id]))? else {
                    return Ok(0);
                };
                Ok(usize::from(remove_in(tx, &key(HELD, &[&at]))?))
            })?;
        }
        Ok(gone)
    }

    /// Every recipient with mail kept here, with their totals and oldest.
    pub fn mailboxes(&self) -> Result<Vec<MailboxOf>> {
        let tree = self.mailbox()?;
        let mut out = Vec::new();
        for kv in tree.scan_prefix([RECIPIENT]) {
            let (k, v) = kv?;
            let recipient = AuthorKey(
                k[1..]
                    .try_into()
                    .map_err(|_| StoreError::corrupt("a mail totals key"))?,
            );
            let oldest = match tree.scan_prefix(key(HELD, &[&recipient.0])).values().next() {
                Some(v) => Some(decode::<HeldMail>("held mail", &v?)?.stored_at),
                None => None,
            };
            out.push(MailboxOf {
                recipient,
                totals: decode("mail totals", &v)?,
                oldest,
            });
        }
        Ok(out)
    }

    /// The totals of a recipient's mail kept here.
    pub fn mailbox_of(&self, recipient: &AuthorKey) -> Result<MailTotals> {
        match self.mailbox()?.get(key(RECIPIENT, &[&recipient.0]))? {
            Some(v) => decode("mail totals", &v),
            None => Ok(MailTotals::default()),
        }
    }

    /// Admits `recipient` (`true`) or stops admitting it; durable on return.
    /// Stopping drops its mail. Whether it changed anything.
    pub async fn mailbox_admit(&self, recipient: &AuthorKey, admitted: bool) -> Result<bool> {
        let tree = self.mailbox()?;
        let k = key(ADMITTED, &[&recipient.0]);
        let changed = if admitted {
            tree.insert(k, &[][..])?.is_none()
        } else {
            let was = tree.remove(k)?.is_some();
            self.mail_drop_recipient(recipient)?;
            was
        };
        self.flush().await?;
        Ok(changed)
    }

    /// Did the operator admit `recipient`?
    pub fn mailbox_admitted(&self, recipient: &AuthorKey) -> Result<bool> {
        Ok(self
            .mailbox()?
            .contains_key(key(ADMITTED, &[&recipient.0]))?)
    }

    /// The recipients the operator admitted, in key order.
    pub fn mailbox_admitted_list(&self) -> Result<Vec<AuthorKey>> {
        self.mailbox()?
            .scan_prefix([ADMITTED])
            .keys()
            .map(|k| {
                let k = k?;
                Ok(AuthorKey(
                    k[1..]
                        .try_into()
                        .map_err(|_| StoreError::corrupt("an admitted key"))?,
                ))
            })
            .collect()
    }

    /// The last position fetched from `host` (0: none yet).
    pub fn mail_cursor(&self, host: &AuthorKey) -> Result<u64> {
        Ok(match self.mailbox()?.get(key(CURSOR, &[&host.0]))? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StoreError::corrupt("a mail cursor"))?,
            ),
            None => 0,
        })
    }

    /// Sets the last position fetched from `host`. Not durable on return.
    pub fn set_mail_cursor(&self, host: &AuthorKey, after: u64) -> Result<()> {
        self.mailbox()?
            .insert(key(CURSOR, &[&host.0]), &after.to_be_bytes())?;
        Ok(())
    }

    /// Queues mail of ours to put. Not durable on return.
    pub fn mail_queue_push(&self, mail: &QueuedMail) -> Result<u64> {
        let open = self.o()?;
        let seq = open.db.generate_id()?;
        open.trees
            .mailbox
            .insert(key(QUEUED, &[&seq.to_be_bytes()]), encode(mail))?;
        Ok(seq)
    }

    /// The mail of ours waiting to be put, oldest first.
    pub fn mail_queue(&self) -> Result<Vec<(u64, QueuedMail)>> {
        self.mailbox()?
            .scan_prefix([QUEUED])
            .map(|kv| {
                let (k, v) = kv?;
                let seq = u64::from_be_bytes(
                    k[1..]
                        .try_into()
                        .map_err(|_| StoreError::corrupt("a mail queue key"))?,
                );
                Ok((seq, decode("queued mail", &v)?))
            })
            .collect()
    }

    /// Removes queued mail (put, or no longer worth sending).
    pub fn mail_queue_remove(&self, seq: u64) -> Result<()> {
        self.mailbox()?.remove(key(QUEUED, &[&seq.to_be_bytes()]))?;
        Ok(())
    }

    /// The request of `agreement` we left with a host, if any.
    pub fn mailed(&self, agreement: &AgreementId) -> Result<Option<Mailed>> {
        self.mailbox()?
            .get(key(MAILED, &[&agreement.0]))?
            .map(|v| decode("mailed", &v))
            .transpose()
    }

    /// Records (`Some`) or forgets the request of `agreement` left with a host.
    pub fn set_mailed(&self, agreement: &AgreementId, mailed: Option<&Mailed>) -> Result<()> {
        let tree = self.mailbox()?;
        let k = key(MAILED, &[&agreement.0]);
        match mailed {
            Some(m) => tree.insert(k, encode(m))?,
            None => tree.remove(k)?,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: u8, sender: u8, size: usize, expires: u64) -> HeldMail {
        HeldMail {
            id: [id; 32],
            sender: AuthorKey([sender; 32]),
            stored_at: Timestamp(100 + u64::from(id)),
            expires_at: Timestamp(expires),
            envelope: vec![id; size],
        }
    }

    const ANA: AuthorKey = AuthorKey([1; 32]);
    const BEN: AuthorKey = AuthorKey([2; 32]);

    #[test]
    fn mail_is_fetched_in_order_after_a_position() {
        let store = Store::temporary().unwrap();
        let q = MailQuotas::default();
        let mut positions = Vec::new();
        for id in 1..=3 {
            match store.mail_put(&ANA, &held(id, 9, 100, 1000), &q).unwrap() {
                MailPut::Stored(n) => positions.push(n),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            store.mail_put(&ANA, &held(2, 9, 100, 1000), &q).unwrap(),
            MailPut::Duplicate
        );
        let (all, more) = store.mail_for(&ANA, 0, 1 << 20).unwrap();
        assert!(!more);
        assert_eq!(all.iter().map(|(n, _)| *n).collect::<Vec<_>>(), positions);
        let (rest, _) = store.mail_for(&ANA, positions[0], 1 << 20).unwrap();
        assert_eq!(rest.len(), 2);
        let (one, more) = store.mail_for(&ANA, 0, 150).unwrap();
        assert_eq!((one.len(), more), (1, true));
        assert!(store.mail_for(&BEN, 0, 1 << 20).unwrap().0.is_empty());
    }

    #[test]
    fn quotas_count_what_is_kept_and_free_up_on_delete() {
        let store = Store::temporary().unwrap();
        let q = MailQuotas {
            recipient: MailTotals {
                count: 3,
                bytes: 1000,
            },
            sender: MailTotals {
                count: 2,
                bytes: 1000,
            },
        };
        assert!(matches!(
            store.mail_put(&ANA, &held(1, 9, 100, 1000), &q).unwrap(),
            MailPut::Stored(_)
        ));
        assert!(matches!(
            store.mail_put(&ANA, &held(2, 9, 100, 1000), &q).unwrap(),
            MailPut::Stored(_)
        ));
        assert_eq!(
            store.mail_put(&ANA, &held(3, 9, 100, 1000), &q).unwrap(),
            MailPut::SenderQuota
        );
        assert!(matches!(
            store.mail_put(&ANA, &held(4, 8, 100, 1000), &q).unwrap(),
            MailPut::Stored(_)
        ));
        assert_eq!(
            store.mail_put(&ANA, &held(5, 7, 100, 1000), &q).unwrap(),
            MailPut::RecipientQuota
        );
        assert_eq!(
            store.mail_put(&BEN, &held(6, 7, 1001, 1000), &q).unwrap(),
            MailPut::RecipientQuota
        );
        assert_eq!(
            store.mailbox_of(&ANA).unwrap(),
            MailTotals {
                count: 3,
                bytes: 300
            }
        );
        // Another recipient cannot delete Ana's mail by id.
        assert_eq!(store.mail_delete(&BEN, &[[1; 32]]).unwrap(), 0);
        assert_eq!(store.mail_delete(&ANA, &[[1; 32], [42; 32]]).unwrap(), 1);
        assert!(matches!(
            store.mail_put(&ANA, &held(3, 9, 100, 1000), &q).unwrap(),
            MailPut::Stored(_)
        ));
        assert_eq!(
            store.mailbox_of(&ANA).unwrap(),
            MailTotals {
                count: 3,
                bytes: 300
            }
        );
        assert_eq!(store.mail_drop_recipient(&ANA).unwrap(), 3);
        assert_eq!(store.mailbox_of(&ANA).unwrap(), MailTotals::default());
        assert!(store.mailboxes().unwrap().is_empty());
    }

    #[test]
    fn expired_mail_goes_with_its_counts() {
        let store = Store::temporary().unwrap();
        let q = MailQuotas::default();
        store.mail_put(&ANA, &held(1, 9, 10, 500), &q).unwrap();
        store.mail_put(&ANA, &held(2, 9, 10, 900), &q).unwrap();
        assert_eq!(store.mail_expire(Timestamp(499)).unwrap(), 0);
        assert_eq!(store.mail_expire(Timestamp(500)).unwrap(), 1);
        let boxes = store.mailboxes().unwrap();
        assert_eq!(boxes.len(), 1);
        assert_eq!(
            boxes[0].totals,
            MailTotals {
                count: 1,
                bytes: 10
            }
        );
        assert_eq!(boxes[0].oldest, Some(Timestamp(102)));
        assert_eq!(store.mail_expire(Timestamp(10_000)).unwrap(), 1);
        assert!(store.mailboxes().unwrap().is_empty());
    }
}
