//! [`Mail`]: sealed agreement messages left with a home server for a party
//! who is offline (issue 26; the envelope in `swapmesh_protocol::mail`).
//!
//! - `host`: as a mail host (`mailbox = "allowed"`): keeps envelopes for the
//!   recipients its operator admitted and whose newest profile names it, under
//!   per-recipient and per-sender quotas; hands them to their recipient only;
//!   drops them on delete, at expiry, and when a newer profile drops the host;
//! - `post`: as a sender and recipient: seals, puts with the other party's
//!   mail peers, fetches from ours, opens, and keeps the answers that came by
//!   mail for the outbox.
//!
//! What a letter carries is the agreements' business: `agree::mail` turns an
//! outbox request into a letter after `mail_after` of failed direct tries, and
//! a letter's request into the answer it sends back.

mod host;
mod post;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use swapmesh_net::NetworkHandle;
use swapmesh_protocol::agreement::wire::Response;
use swapmesh_protocol::record::PROFILE_D;
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::{Address, AuthorKey, Content, RecordKind, SigningKey};
use swapmesh_store::{MailQuotas, Store};

pub(crate) use post::{Fetched, PutOutcome};

use crate::address_book::AddressBook;
use crate::clock::Clock;

/// Most answers that came by mail kept for the outbox at once.
const MAX_ANSWERS: usize = 4096;

/// Mail: the host's side and our own.
#[derive(Clone)]
pub(crate) struct Mail {
    inner: Arc<Parts>,
}

struct Parts {
    key: SigningKey,
    me: AuthorKey,
    store: Store,
    net: NetworkHandle,
    clock: Arc<dyn Clock>,
    address_book: Arc<AddressBook>,
    /// Keep mail for others (`mailbox = "allowed"`).
    host: bool,
    quotas: MailQuotas,
    /// Answers that came by mail, by their sender and the blake3 of the
    /// request they answer.
    answers: Mutex<HashMap<(AuthorKey, [u8; 32]), Response>>,
    /// The mail peers a sender last named to reply to.
    reply_to: Mutex<HashMap<AuthorKey, Vec<AuthorKey>>>,
    counters: Counters,
}

/// What the mail counts, for `/metrics`.
#[derive(Default)]
struct Counters {
    /// Envelopes kept for others.
    stored: AtomicU64,
    /// Puts refused, for any reason.
    refused: AtomicU64,
    /// Letters of ours put with a host.
    sent: AtomicU64,
    /// Letters fetched and opened.
    opened: AtomicU64,
    /// Letters fetched that did not verify, did not open, or came from a
    /// non-party: dropped.
    dropped: AtomicU64,
}

/// What [`Mail::new`] needs.
pub(crate) struct MailParts {
    pub(crate) key: SigningKey,
    pub(crate) store: Store,
    pub(crate) net: NetworkHandle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) address_book: Arc<AddressBook>,
    pub(crate) host: bool,
}

/// The host's mailbox at a glance (`swapmesh mailbox status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Whether this node keeps mail for others.
    pub enabled: bool,
    /// The recipients its operator admitted.
    pub admitted: Vec<AuthorKey>,
    /// The mail kept, by recipient.
    pub recipients: Vec<swapmesh_store::MailboxOf>,
}

impl Mail {
    pub(crate) fn new(parts: MailParts) -> Self {
        Self {
            inner: Arc::new(Parts {
                me: swapmesh_protocol::signed::author_of(&parts.key),
                key: parts.key,
                store: parts.store,
                net: parts.net,
                clock: parts.clock,
                address_book: parts.address_book,
                host: parts.host,
                quotas: MailQuotas::default(),
                answers: Mutex::default(),
                reply_to: Mutex::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// The newest profile this node holds of `author`.
    fn profile_of(&self, author: &AuthorKey) -> Option<Profile> {
        let address = Address {
            author: *author,
            kind: RecordKind::Profile,
            d: PROFILE_D.to_owned(),
        };
        match self.inner.store.get_current(&address) {
            Ok(Some(record)) => match record.body.content {
                Content::Profile(profile) => Some(profile),
                _ => None,
            },
            _ => None,
        }
    }

    /// The hosts that keep mail for `author`: its profile's mail peers, else
    /// the ones its last letter named to reply to.
    pub(crate) fn hosts_of(&self, author: &AuthorKey) -> Vec<AuthorKey> {
        let named = self
            .profile_of(author)
            .map(|p| p.mail_peers)
            .unwrap_or_default();
        let hosts = if named.is_empty() {
            self.inner
                .reply_to
                .lock()
                .expect("mail lock")
                .get(author)
                .cloned()
                .unwrap_or_default()
        } else {
            named
        };
        hosts
            .into_iter()
            .filter(|h| *h != self.inner.me && *h != *author)
            .collect()
    }

    /// Our own mail peers, as our newest profile names them.
    pub(crate) fn my_hosts(&self) -> Vec<AuthorKey> {
        self.profile_of(&self.inner.me)
            .map(|p| p.mail_peers)
            .unwrap_or_default()
            .into_iter()
            .filter(|h| *h != self.inner.me)
            .collect()
    }

    /// Remembers where `sender` asked to be answered.
    pub(crate) fn note_reply_to(&self, sender: AuthorKey, hosts: Vec<AuthorKey>) {
        if hosts.is_empty() {
            return;
        }
        let mut reply_to = self.inner.reply_to.lock().expect("mail lock");
        if reply_to.len() >= MAX_ANSWERS && !reply_to.contains_key(&sender) {
            reply_to.clear();
        }
        reply_to.insert(sender, hosts);
    }

    /// Keeps an answer `from` sent by mail to our request `request`.
    pub(crate) fn keep_answer(&self, from: AuthorKey, request: [u8; 32], response: Response) {
        let mut answers = self.inner.answers.lock().expect("mail lock");
        if answers.len() >= MAX_ANSWERS {
            answers.clear();
        }
        answers.insert((from, request), response);
    }

    /// The answer `from` sent by mail to our request `request`, taken: only
    /// the party a request went to answers it.
    pub(crate) fn take_answer(&self, from: &AuthorKey, request: &[u8; 32]) -> Option<Response> {
        self.inner
            .answers
            .lock()
            .expect("mail lock")
            .remove(&(*from, *request))
    }

    /// Counts a letter fetched that we dropped.
    pub(crate) fn count_dropped(&self) {
        self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The host's mailbox, for its operator.
    pub(crate) fn status(&self) -> Result<MailboxStatus, swapmesh_store::StoreError> {
        Ok(MailboxStatus {
            enabled: self.inner.host,
            admitted: self.inner.store.mailbox_admitted_list()?,
            recipients: self.inner.store.mailboxes()?,
        })
    }

    /// The counters and the mailbox's size as OpenMetrics lines.
    pub(crate) fn render_metrics(&self) -> Result<String, swapmesh_store::StoreError> {
        use std::fmt::Write;
        let c = &self.inner.counters;
        let mut out = String::from(
            "# HELP swapmesh_mail Mail envelopes since start: kept for others (stored), refused, \
             ours put with a host (sent), ours fetched and opened (opened), fetched and dropped (dropped).\n\
             # TYPE swapmesh_mail counter\n",
        );
        for (what, n) in [
            ("stored", &c.stored),
            ("refused", &c.refused),
            ("sent", &c.sent),
            ("opened", &c.opened),
            ("dropped", &c.dropped),
        ] {
            let _ = writeln!(
                out,
                "swapmesh_mail_total{{event=\"{what}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let (mut envelopes, mut bytes) = (0u64, 0u64);
        for mailbox in self.inner.store.mailboxes()? {
            envelopes += u64::from(mailbox.totals.count);
            bytes += mailbox.totals.bytes;
        }
        let _ = write!(
            out,
            "# HELP swapmesh_mailbox_envelopes Envelopes this host keeps for others.\n\
             # TYPE swapmesh_mailbox_envelopes gauge\n\
             swapmesh_mailbox_envelopes {envelopes}\n\
             # HELP swapmesh_mailbox_bytes Bytes of the envelopes this host keeps for others.\n\
             # TYPE swapmesh_mailbox_bytes gauge\n\
             swapmesh_mailbox_bytes {bytes}\n"
        );
        Ok(out)
    }
}
