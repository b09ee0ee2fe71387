//! The mail host: keeps sealed envelopes for the recipients its operator
//! admitted whose newest profile names it, and hands each recipient its own.
//! It sees who writes to whom, when and how much; never what.

use std::sync::atomic::Ordering;

use swapmesh_net::{Misbehaviour, PeerId, ResponseHandle};
use swapmesh_protocol::mail::{
    MAX_DELETE_IDS, MAX_MAIL_FRAME, MailError, MailRequest, MailRequestV1, MailResponse,
    MailResponseV1, PutRefusal, SignedEnvelope,
};
use swapmesh_protocol::validate::Checked;
use swapmesh_protocol::{AuthorKey, Content, SignedRecord, Timestamp};
use swapmesh_store::{HeldMail, MailPut, StoreError};
use tracing::{debug, info};

use super::Mail;
use crate::agree::author_of_peer;

/// Room left in a fetch's answer for the framing around its envelopes.
const FRAME_ROOM: usize = 16 * 1024;

/// How a request was answered: a response, or the stream closed (the
/// request broke the framing rules and its peer was charged).
enum Answer {
    Respond(MailResponse),
    Close,
}

impl Mail {
    /// Answers one `/swapmesh/mail/1` request from `peer`.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let answer = match MailRequest::decode(&data) {
            Err(MailError::Unsupported(_)) => Answer::Respond(MailResponse::Unsupported),
            Err(e) => {
                debug!(%peer, error = %e, "a malformed mail frame");
                self.charge(peer, Misbehaviour::MalformedFrame).await;
                Answer::Close
            }
            Ok(request) => match author_of_peer(&peer) {
                None => Answer::Respond(MailResponse::Unsupported),
                Some(from) => match self.answer(peer, from, request).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        debug!(%peer, error = %e, "a mail request failed here");
                        Answer::Close
                    }
                },
            },
        };
        match answer {
            Answer::Respond(response) => {
                if let Err(e) = reply.respond(response.encode()).await {
                    debug!(%peer, error = %e, "could not answer a mail request");
                }
            }
            Answer::Close => drop(reply),
        }
    }

    async fn charge(&self, peer: PeerId, what: Misbehaviour) {
        let _ = self.inner.net.report_misbehaviour(peer, what).await;
    }

    async fn answer(
        &self,
        peer: PeerId,
        from: AuthorKey,
        request: MailRequestV1,
    ) -> Result<Answer, StoreError> {
        let v1 = |r| Ok(Answer::Respond(MailResponse::V1(r)));
        match request {
            MailRequestV1::Put { envelope } => {
                let response = self.put_in(peer, from, envelope).await?;
                if let MailResponseV1::Refused(_) = response {
                    self.inner.counters.refused.fetch_add(1, Ordering::Relaxed);
                }
                v1(response)
            }
            MailRequestV1::Fetch { after, profile } => {
                if let Some(profile) = profile {
                    self.profile_in(peer, from, profile).await?;
                }
                if !self.keeps_for(&from)? {
                    return v1(MailResponseV1::Refused(PutRefusal::NotMyMailbox));
                }
                let (held, more) =
                    self.inner
                        .store
                        .mail_for(&from, after, MAX_MAIL_FRAME - FRAME_ROOM)?;
                let mut items = Vec::with_capacity(held.len());
                for (n, held) in held {
                    match SignedEnvelope::decode(&held.envelope) {
                        Ok(envelope) => items.push((n, held.stored_at, envelope)),
                        Err(e) => debug!(error = %e, "a kept envelope does not decode"),
                    }
                }
                v1(MailResponseV1::Mail { items, more })
            }
            MailRequestV1::Delete { ids } => {
                if ids.len() > MAX_DELETE_IDS {
                    self.charge(peer, Misbehaviour::MalformedFrame).await;
                    return Ok(Answer::Close);
                }
                let ids: Vec<[u8; 32]> = ids.iter().map(|id| id.0).collect();
                if self.inner.store.mail_delete(&from, &ids)? > 0 {
                    self.inner.store.flush().await?;
                }
                v1(MailResponseV1::Deleted)
            }
        }
    }

    /// Keeps an envelope `from` put, if it is valid, its sender's, for a
    /// recipient this host serves, and within the quotas. Flushed before it
    /// is acknowledged.
    async fn put_in(
        &self,
        peer: PeerId,
        from: AuthorKey,
        signed: SignedEnvelope,
    ) -> Result<MailResponseV1, StoreError> {
        let now = self.inner.clock.now();
        let envelope = match signed.verify(now) {
            Ok(envelope) => envelope,
            Err(MailError::Expired) => return Ok(MailResponseV1::Refused(PutRefusal::Expired)),
            Err(e) => {
                debug!(%peer, error = %e, "an invalid envelope");
                self.charge(peer, Misbehaviour::InvalidRecord).await;
                return Ok(MailResponseV1::Refused(PutRefusal::Invalid));
            }
        };
        if envelope.sender != from {
            debug!(%peer, "an envelope put by someone other than its sender");
            self.charge(peer, Misbehaviour::InvalidRecord).await;
            return Ok(MailResponseV1::Refused(PutRefusal::Invalid));
        }
        if !self.keeps_for(&envelope.recipient)? {
            return Ok(MailResponseV1::Refused(PutRefusal::NotMyMailbox));
        }
        let held = HeldMail {
            id: signed.id().0,
            sender: envelope.sender,
            stored_at: now,
            expires_at: envelope.expires_at,
            envelope: signed.encode(),
        };
        match self
            .inner
            .store
            .mail_put(&envelope.recipient, &held, &self.inner.quotas)?
        {
            MailPut::Stored(_) | MailPut::Duplicate => {
                self.inner.store.flush().await?;
                self.inner.counters.stored.fetch_add(1, Ordering::Relaxed);
                Ok(MailResponseV1::Stored)
            }
            MailPut::RecipientQuota | MailPut::SenderQuota => {
                Ok(MailResponseV1::Refused(PutRefusal::Quota))
            }
        }
    }

    /// Takes the profile a fetcher sent along, so the host knows it names
    /// the host even before gossip brings it.
    async fn profile_in(
        &self,
        peer: PeerId,
        from: AuthorKey,
        record: SignedRecord,
    ) -> Result<(), StoreError> {
        let now = self.inner.clock.now();
        match swapmesh_protocol::check(record, now) {
            Ok(Checked::Valid(valid))
                if valid.body().author == from
                    && matches!(valid.body().content, Content::Profile(_)) =>
            {
                self.inner.store.insert(&valid, now)?;
            }
            Ok(Checked::Valid(_)) | Err(_) => {
                debug!(%peer, "a fetch came with a profile that is not the fetcher's");
                self.charge(peer, Misbehaviour::InvalidRecord).await;
            }
            Ok(Checked::Ignored(_)) => {}
        }
        Ok(())
    }

    /// Does this host keep mail for `recipient`: is it a host at all, did
    /// its operator admit the recipient, and does the recipient's newest
    /// profile name it? A recipient whose profile dropped the host loses the
    /// mail kept for it here.
    fn keeps_for(&self, recipient: &AuthorKey) -> Result<bool, StoreError> {
        if !self.inner.host || !self.inner.store.mailbox_admitted(recipient)? {
            return Ok(false);
        }
        let named = self
            .profile_of(recipient)
            .is_some_and(|p| p.mail_peers.contains(&self.inner.me));
        if !named {
            let gone = self.inner.store.mail_drop_recipient(recipient)?;
            if gone > 0 {
                info!(recipient = %recipient, envelopes = gone, "dropped the mail of a recipient whose profile no longer names this host");
            }
        }
        Ok(named)
    }

    /// `recipient` published a profile: if it no longer names this host,
    /// the mail kept for them goes.
    pub(crate) fn profile_changed(&self, recipient: &AuthorKey) -> Result<(), StoreError> {
        if self.inner.store.mailbox_of(recipient)?.count > 0 {
            self.keeps_for(recipient)?;
        }
        Ok(())
    }

    /// Drops the mail expired at `now` and the mail of recipients this host
    /// no longer serves; returns how many envelopes went.
    pub(crate) fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut gone = self.inner.store.mail_expire(now)?;
        for mailbox in self.inner.store.mailboxes()? {
            let before = mailbox.totals.count as usize;
            if !self.keeps_for(&mailbox.recipient)? {
                gone += before;
            }
        }
        Ok(gone)
    }

    /// Admits `recipient` (or stops admitting it, dropping its mail).
    pub(crate) async fn admit(
        &self,
        recipient: &AuthorKey,
        admitted: bool,
    ) -> Result<bool, StoreError> {
        self.inner.store.mailbox_admit(recipient, admitted).await
    }
}
