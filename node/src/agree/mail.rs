//! Agreements by mail (issue 26). After `mail_after` of failed direct tries to
//! a party whose profile (or last letter) names mail peers, the request the
//! outbox would send is sealed and put with the first host that keeps it;
//! direct tries go on, and the entry leaves on its answer, direct or by mail.
//!
//! Our own mail is fetched from our hosts at start, when one connects, every
//! `mail_poll`: a letter's request is handled as if its sender had sent it,
//! except that the sequencer's arrival rules read when our host stored the
//! letter, not our clock; the response goes back as an `Answer` letter, queued
//! durably before the letter is deleted at the host. An `Answer` is kept for
//! the outbox, which takes it in place of a direct response to the same
//! request (the same bytes: blake3 of the request's encoding).

use std::time::Duration;

use swapmesh_protocol::agreement::wire::{Refusal, Request, Response};
use swapmesh_protocol::mail::{Letter, MAX_REPLY_TO, MailItem};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{AuthorKey, encoding};
use swapmesh_store::{Mailed, OutboxKey};
use tracing::{debug, info, warn};

use super::serve::Origin;
use super::{Agree, AgreeError};
use crate::mail::{Fetched, PutOutcome};

/// How often the mail loop looks at the clock (the poll itself follows the
/// node's clock).
const LOOK_EVERY: Duration = Duration::from_secs(15);

/// The id of a request, as an `Answer` names it: blake3 of its encoding.
pub(super) fn request_hash(request: &Request) -> [u8; 32] {
    *blake3::hash(&encoding::encode(request)).as_bytes()
}

/// How an agreement's messages to the other party go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Nothing of ours waits for the other party.
    Answered,
    /// Trying directly.
    Trying,
    /// Left with a mail host of the other party's (direct tries go on).
    InMailbox {
        /// The host.
        host: AuthorKey,
        /// Since when (our clock).
        since: swapmesh_protocol::Timestamp,
    },
}

impl Agree {
    /// The answer that came by mail to `request` of outbox entry `key`, or to
    /// the request this entry left with a host (the chain may have grown
    /// since: the answer still says where the other party is), if one came.
    pub(super) fn mailed_answer(&self, key: &OutboxKey, hash: &[u8; 32]) -> Option<Response> {
        let mail = &self.inner.mail;
        let response = mail.take_answer(&key.peer, hash).or_else(|| {
            let mailed = self.inner.store.mailed(&key.agreement).ok()??;
            (mailed.entry == key.seq)
                .then(|| mail.take_answer(&key.peer, &mailed.request))
                .flatten()
        })?;
        debug!(agreement = %key.agreement, "an answer came by mail");
        let _ = self.inner.store.set_mailed(&key.agreement, None);
        Some(response)
    }

    /// The request left with a host for `key`'s agreement was answered.
    pub(super) fn forget_mailed(&self, key: &OutboxKey, hash: &[u8; 32]) {
        let store = &self.inner.store;
        if let Ok(Some(mailed)) = store.mailed(&key.agreement)
            && mailed.request == *hash
        {
            let _ = store.set_mailed(&key.agreement, None);
        }
    }

    /// Our request `request` of outbox entry `key` could not be delivered
    /// directly: once direct tries have failed for `mail_after`, it goes by
    /// mail (again only if refused, or unanswered for a day).
    pub(super) async fn mail_request(&self, key: &OutboxKey, request: &Request, hash: [u8; 32]) {
        let now = self.inner.clock.now();
        let since = self.inner.outbox.failing_since(key.peer, now);
        if now.secs() < since.secs().saturating_add(self.inner.mail_after) {
            return;
        }
        let store = &self.inner.store;
        if let Ok(Some(mailed)) = store.mailed(&key.agreement)
            && mailed.request == hash
            && now < mailed.since.plus(DAY)
        {
            return;
        }
        let mail = &self.inner.mail;
        let hosts = mail.hosts_of(&key.peer);
        if hosts.is_empty() {
            return;
        }
        let letter = Letter::V1 {
            reply_to: self.reply_to(),
            item: MailItem::Request(request.clone()),
        };
        let envelope = match mail.seal(key.peer, &letter) {
            Ok(envelope) => envelope,
            Err(e) => {
                warn!(peer = %key.peer, error = %e, "could not seal a letter");
                return;
            }
        };
        match mail.put(&hosts, &envelope).await {
            PutOutcome::Stored(host) => {
                info!(agreement = %key.agreement, %host, "left our message with the other party's mail host");
                let mailed = Mailed {
                    entry: key.seq,
                    request: hash,
                    host,
                    since: now,
                };
                if let Err(e) = store.set_mailed(&key.agreement, Some(&mailed)) {
                    warn!(error = %e, "could not note a letter left with a host");
                }
            }
            PutOutcome::Refused(refusal) => {
                debug!(agreement = %key.agreement, ?refusal, "the other party's mail hosts refused our letter");
            }
            PutOutcome::Unreachable => {}
        }
    }

    /// Our mail peers, to be answered through.
    fn reply_to(&self) -> Vec<AuthorKey> {
        let mut hosts = self.inner.mail.my_hosts();
        hosts.truncate(MAX_REPLY_TO);
        hosts
    }

    /// How our messages of `agreement` to the other party go, with `entries`
    /// (their sequence numbers) in the outbox.
    pub(super) fn delivery(
        &self,
        agreement: &swapmesh_protocol::AgreementId,
        entries: &[u64],
    ) -> Delivery {
        if entries.is_empty() {
            return Delivery::Answered;
        }
        match self.inner.store.mailed(agreement) {
            // The entry left with the host still waits for its answer.
            Ok(Some(mailed)) if entries.contains(&mailed.entry) => Delivery::InMailbox {
                host: mailed.host,
                since: mailed.since,
            },
            _ => Delivery::Trying,
        }
    }

    /// Fetches our mail from each of our hosts and acts on it, then puts the
    /// answers waiting in the queue. One check at a time.
    pub(crate) async fn check_mail(&self) {
        let _one = self.inner.mail_check.lock().await;
        for host in self.inner.mail.my_hosts() {
            // Bounded: a host that always says "more" cannot keep us here.
            for _ in 0..64 {
                let Some((fetched, more)) = self.inner.mail.fetch(&host).await else {
                    break;
                };
                let Some(last) = fetched.last().map(|f| f.position) else {
                    break;
                };
                let mut ids = Vec::with_capacity(fetched.len());
                for letter in fetched {
                    let id = letter.id;
                    match self.letter_in(letter).await {
                        Ok(()) => ids.push(id),
                        // Our own store failed: the letter stays at the host.
                        Err(e) => {
                            warn!(error = %e, "could not act on a letter");
                            return;
                        }
                    }
                }
                if let Err(e) = self.inner.mail.done(&host, last, ids).await {
                    warn!(error = %e, "could not mark our mail read");
                    return;
                }
                if !more {
                    break;
                }
            }
        }
        if let Err(e) = self.inner.mail.send_queued().await {
            warn!(error = %e, "could not send the queued letters");
        }
    }

    /// Acts on one letter. `Err` only when our own store fails.
    async fn letter_in(&self, fetched: Fetched) -> Result<(), AgreeError> {
        let mail = &self.inner.mail;
        let (envelope, letter) = match fetched.opened {
            Ok(opened) => opened,
            Err(e) => {
                warn!(sender = ?fetched.sender.map(|s| s.to_string()), error = %e, "dropped a letter that does not verify or open");
                mail.count_dropped();
                return Ok(());
            }
        };
        let sender = envelope.sender;
        let Letter::V1 { reply_to, item } = letter;
        mail.note_reply_to(sender, reply_to.clone());
        match item {
            MailItem::Request(request) => {
                let hash = request_hash(&request);
                let origin = Origin::mail(fetched.stored_at);
                let response = self.handle(origin, sender, request).await?;
                if let Response::Refused {
                    refusal: Refusal::NotAParty,
                    ..
                } = response
                {
                    warn!(%sender, "dropped a letter from someone who is not a party");
                    mail.count_dropped();
                    return Ok(());
                }
                let hosts = if reply_to.is_empty() {
                    mail.hosts_of(&sender)
                } else {
                    reply_to
                };
                if hosts.is_empty() {
                    // Nowhere to answer: the sender's next direct try is.
                    return Ok(());
                }
                let answer = Letter::V1 {
                    reply_to: self.reply_to(),
                    item: MailItem::Answer {
                        request: hash,
                        response,
                    },
                };
                mail.queue(sender, hosts, &answer).await?;
            }
            MailItem::Answer { request, response } => {
                mail.keep_answer(sender, request, response);
                self.inner.outbox.poke(&sender);
            }
        }
        Ok(())
    }

    /// Checks our mail at start, when poked (one of our hosts connected),
    /// and every `poll` of the node's clock.
    pub(super) fn start_mail(&self, poll: Duration) {
        let agree = self.clone();
        self.inner.tasks.spawn(async move {
            let mut last = None;
            loop {
                let now = agree.inner.clock.now();
                let due = last.is_none_or(|at: swapmesh_protocol::Timestamp| {
                    now.secs() >= at.secs().saturating_add(poll.as_secs())
                });
                if due {
                    last = Some(now);
                    agree.check_mail().await;
                }
                let look = LOOK_EVERY.min(poll.max(Duration::from_millis(100)));
                if tokio::time::timeout(look, agree.inner.mail_poke.notified())
                    .await
                    .is_ok()
                {
                    last = None;
                }
            }
        });
    }

    /// A peer connected: if it is one of our mail hosts, check our mail.
    pub(crate) fn host_seen(&self, author: &AuthorKey) {
        if self.inner.mail.my_hosts().contains(author) {
            self.inner.mail_poke.notify_one();
        }
    }
}
