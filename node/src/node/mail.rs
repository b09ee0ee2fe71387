//! Mail: the mailbox this node keeps for others as a host, and a check of
//! our own mail on demand (see [`crate::mail`]).

use swapmesh_protocol::AuthorKey;

use super::Node;
use crate::error::NodeError;
use crate::mail::MailboxStatus;

impl Node {
    /// Fetches our mail from our mail peers now and acts on it, after waking
    /// every outbox worker (each tries directly, then by mail if it is time).
    /// The node does this by itself at start, when a mail peer connects and
    /// every `mail_poll`; a test that moved the clock calls it.
    pub async fn check_mail(&self) {
        self.inner.agree.retry_all();
        self.inner.agree.check_mail().await;
    }

    /// The mailbox this node keeps for others: whether it does, whom its
    /// operator admitted, what it keeps for whom.
    pub fn mailbox_status(&self) -> Result<MailboxStatus, NodeError> {
        Ok(self.inner.mail.status()?)
    }

    /// Admits `recipient` to this node's mailbox (`true`), or stops admitting
    /// them and drops their mail; durable on return.
    pub async fn mailbox_admit(
        &self,
        recipient: AuthorKey,
        admitted: bool,
    ) -> Result<(), NodeError> {
        Ok(self.inner.mail.admit(&recipient, admitted).await?)
    }
}
