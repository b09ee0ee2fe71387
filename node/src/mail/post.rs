//! Our own mail: sealing and putting letters with the other party's hosts,
//! fetching, opening and deleting ours, and the queue of letters that must
//! not be lost (answers to requests that came by mail).

use std::sync::atomic::Ordering;

use swapmesh_net::{Protocol, RequestError};
use swapmesh_protocol::mail::{
    Envelope, EnvelopeId, Letter, MAX_MAIL_LIFETIME, MailError, MailRequest, MailRequestV1,
    MailResponse, MailResponseV1, PutRefusal, SignedEnvelope, open, seal,
};
use swapmesh_protocol::record::PROFILE_D;
use swapmesh_protocol::{Address, AuthorKey, RecordKind, Timestamp};
use swapmesh_store::{QueuedMail, StoreError};
use tracing::{debug, warn};

use super::Mail;
use crate::agree::peer_of;

/// What became of a put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PutOutcome {
    /// Kept by this host.
    Stored(AuthorKey),
    /// Every host refused it (the last refusal).
    Refused(PutRefusal),
    /// No host answered.
    Unreachable,
}

/// A letter fetched from one of our hosts.
pub(crate) struct Fetched {
    /// Its position at the host.
    pub(crate) position: u64,
    /// When the host stored it, by the host's clock.
    pub(crate) stored_at: Timestamp,
    /// Its id, to delete it.
    pub(crate) id: EnvelopeId,
    /// The sender its envelope names (unverified when `opened` failed).
    pub(crate) sender: Option<AuthorKey>,
    /// The envelope, verified, or why it did not verify or open.
    pub(crate) opened: Result<(Envelope, Letter), MailError>,
}

impl Mail {
    /// Seals `letter` to `recipient`, living the longest an envelope may.
    pub(crate) fn seal(
        &self,
        recipient: AuthorKey,
        letter: &Letter,
    ) -> Result<SignedEnvelope, MailError> {
        seal(
            &self.inner.key,
            recipient,
            letter,
            self.inner.clock.now(),
            MAX_MAIL_LIFETIME,
            &mut rand::rngs::OsRng,
        )
    }

    /// Sends one mail request to `host`, dialling it if need be.
    async fn request(&self, host: &AuthorKey, request: MailRequestV1) -> Option<MailResponseV1> {
        let peer = peer_of(host)?;
        let frame = MailRequest::V1(request).encode();
        let mut dialled = false;
        loop {
            match self
                .inner
                .net
                .send_request(Protocol::Mail, peer, frame.clone())
                .await
            {
                Ok(bytes) => {
                    return match MailResponse::decode(&bytes) {
                        Ok(MailResponse::V1(response)) => Some(response),
                        Ok(MailResponse::Unsupported) => None,
                        Err(e) => {
                            debug!(%host, error = %e, "a mail response did not decode");
                            None
                        }
                    };
                }
                Err(RequestError::DialFailure) if !dialled => {
                    dialled = true;
                    if !self.inner.address_book.reach(&self.inner.net, peer).await {
                        return None;
                    }
                }
                Err(e) => {
                    debug!(%host, error = %e, "a mail request failed");
                    return None;
                }
            }
        }
    }

    /// Puts `envelope` with the first of `hosts` that keeps it.
    pub(crate) async fn put(&self, hosts: &[AuthorKey], envelope: &SignedEnvelope) -> PutOutcome {
        let mut outcome = PutOutcome::Unreachable;
        for host in hosts {
            let request = MailRequestV1::Put {
                envelope: envelope.clone(),
            };
            match self.request(host, request).await {
                Some(MailResponseV1::Stored) => {
                    self.inner.counters.sent.fetch_add(1, Ordering::Relaxed);
                    return PutOutcome::Stored(*host);
                }
                Some(MailResponseV1::Refused(refusal)) => {
                    debug!(%host, ?refusal, "a mail host refused our letter");
                    outcome = PutOutcome::Refused(refusal);
                }
                Some(other) => debug!(%host, answer = ?other, "a mail host answered a put oddly"),
                None => {}
            }
        }
        outcome
    }

    /// Our mail at `host` after the last position we fetched, verified and
    /// opened (or why not), and whether more waits. Our newest profile goes
    /// along, so the host knows it serves us. `None`: the host did not answer
    /// or keeps no mail for us.
    pub(crate) async fn fetch(&self, host: &AuthorKey) -> Option<(Vec<Fetched>, bool)> {
        let after = match self.inner.store.mail_cursor(host) {
            Ok(after) => after,
            Err(e) => {
                warn!(error = %e, "could not read a mail cursor");
                return None;
            }
        };
        let profile = self
            .inner
            .store
            .get_current(&Address {
                author: self.inner.me,
                kind: RecordKind::Profile,
                d: PROFILE_D.to_owned(),
            })
            .ok()
            .flatten()
            .map(|r| r.signed);
        let response = self
            .request(host, MailRequestV1::Fetch { after, profile })
            .await?;
        let MailResponseV1::Mail { items, more } = response else {
            debug!(%host, answer = ?response, "a mail host did not hand over our mail");
            return None;
        };
        let now = self.inner.clock.now();
        let fetched = items
            .into_iter()
            .filter(|(position, ..)| *position > after)
            .map(|(position, stored_at, signed)| {
                let opened = signed
                    .verify(now)
                    .and_then(|envelope| {
                        if envelope.recipient == self.inner.me {
                            Ok(envelope)
                        } else {
                            Err(MailError::DoesNotOpen)
                        }
                    })
                    .and_then(|envelope| {
                        let letter = open(&envelope, &self.inner.key)?;
                        Ok((envelope, letter))
                    });
                if opened.is_ok() {
                    self.inner.counters.opened.fetch_add(1, Ordering::Relaxed);
                }
                let sender = swapmesh_protocol::encoding::decode_canonical::<Envelope>(
                    &signed.body,
                    swapmesh_protocol::mail::MAX_ENVELOPE_BODY,
                )
                .ok()
                .map(|e| e.sender);
                Fetched {
                    position,
                    stored_at,
                    id: signed.id(),
                    sender,
                    opened,
                }
            })
            .collect();
        Some((fetched, more))
    }

    /// Marks our mail at `host` read up to `position` (durable before the
    /// host is asked to delete it) and deletes `ids` there.
    pub(crate) async fn done(
        &self,
        host: &AuthorKey,
        position: u64,
        ids: Vec<EnvelopeId>,
    ) -> Result<(), StoreError> {
        self.inner.store.set_mail_cursor(host, position)?;
        self.inner.store.flush().await?;
        for ids in ids.chunks(swapmesh_protocol::mail::MAX_DELETE_IDS) {
            let request = MailRequestV1::Delete { ids: ids.to_vec() };
            if self.request(host, request).await.is_none() {
                debug!(%host, "could not delete our mail there; it expires");
            }
        }
        Ok(())
    }

    /// Queues a letter to `recipient` that must not be lost (durable on
    /// return); [`Mail::send_queued`] puts it.
    pub(crate) async fn queue(
        &self,
        recipient: AuthorKey,
        hosts: Vec<AuthorKey>,
        letter: &Letter,
    ) -> Result<(), StoreError> {
        let envelope = match self.seal(recipient, letter) {
            Ok(envelope) => envelope,
            Err(e) => {
                warn!(%recipient, error = %e, "could not seal a letter");
                return Ok(());
            }
        };
        let expires_at = self.inner.clock.now().plus(MAX_MAIL_LIFETIME);
        self.inner.store.mail_queue_push(&QueuedMail {
            hosts,
            envelope: envelope.encode(),
            expires_at,
        })?;
        self.inner.store.flush().await
    }

    /// Puts what the queue holds; a letter leaves when a host keeps it, when
    /// every host refuses it for good, or when it expires.
    pub(crate) async fn send_queued(&self) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        for (seq, queued) in self.inner.store.mail_queue()? {
            let envelope = match SignedEnvelope::decode(&queued.envelope) {
                Ok(envelope) if queued.expires_at > now => envelope,
                _ => {
                    self.inner.store.mail_queue_remove(seq)?;
                    continue;
                }
            };
            match self.put(&queued.hosts, &envelope).await {
                PutOutcome::Stored(_)
                | PutOutcome::Refused(
                    PutRefusal::NotMyMailbox | PutRefusal::Expired | PutRefusal::Invalid,
                ) => self.inner.store.mail_queue_remove(seq)?,
                PutOutcome::Refused(PutRefusal::Quota) | PutOutcome::Unreachable => {}
            }
        }
        Ok(())
    }
}
