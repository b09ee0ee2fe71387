//! Mail: the mailbox this node keeps for others as a host, and a check of
//! our own mail on demand (see [`crate::mail`]).

use swapmesh_protocol::{AuthorKey, RecordKind};
use tokio::sync::broadcast::error::RecvError;
use tracing::debug;

use super::Node;
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::mail::MailboxStatus;

impl Node {
    /// As a mail host: a recipient's newer profile that no longer names this
    /// node drops the mail kept for them at once (the sweep catches what a
    /// lagging follower misses).
    pub(super) fn follow_profiles_for_mail(&self) {
        if !self.inner.config.mailbox {
            return;
        }
        let mut events = self.inner.events.subscribe();
        let mail = self.inner.mail.clone();
        self.inner.tasks.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(
                        NodeEvent::RecordAdded { address, .. }
                        | NodeEvent::RecordChanged { address, .. },
                    ) if address.kind == RecordKind::Profile => {
                        if let Err(e) = mail.profile_changed(&address.author) {
                            debug!(error = %e, "could not check a recipient's mail");
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

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
    /// them and drops their mail; durable on return. Whether that changed
    /// anything.
    pub async fn mailbox_admit(
        &self,
        recipient: AuthorKey,
        admitted: bool,
    ) -> Result<bool, NodeError> {
        Ok(self.inner.mail.admit(&recipient, admitted).await?)
    }
}
