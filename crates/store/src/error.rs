//! The store's typed errors.

use std::io;

use thiserror::Error;

/// Why a store call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database was written by a newer swapmesh with a schema this build cannot
    /// read. Nothing was changed on disk.
    #[error(
        "the database has schema version {found}, newer than {supported} which this build \
         reads: upgrade swapmesh or point it at another data directory"
    )]
    NewerSchema {
        /// The schema version found on disk.
        found: u32,
        /// The newest schema version this build reads.
        supported: u32,
    },
    /// The database has a schema version that no migration knows how to upgrade.
    #[error("the database has schema version {found}, which no migration upgrades")]
    UnknownSchema {
        /// The schema version found on disk.
        found: u32,
    },
    /// Stored bytes do not decode, or sled found a corrupt page: restore a backup or
    /// start a fresh data directory.
    #[error("the database is corrupt: {what}")]
    Corrupt {
        /// What could not be read.
        what: String,
    },
    /// The disk is full; free space and retry. The failed write did not happen.
    #[error("the disk is full: {0}")]
    DiskFull(#[source] io::Error),
    /// Another process (another node) has the database open.
    #[error("the database is in use by another process: {0}")]
    Locked(#[source] io::Error),
    /// Reading or writing the database failed.
    #[error("database I/O failed: {0}")]
    Io(#[source] io::Error),
    /// A cursor that this store did not hand out.
    #[error("invalid cursor {0:?}")]
    BadCursor(String),
    /// An agreement commit that contradicts itself (its events are not the end of
    /// its state's chain, or belong to another agreement, or its state does not
    /// continue the stored one) or whose value would be too large to read back: a
    /// bug in the caller. Nothing was written.
    #[error("agreement commit refused: {0}")]
    BadCommit(String),
    /// The database is being reopened after a failed write ([`Store::reopen`]);
    /// retry in a moment.
    ///
    /// [`Store::reopen`]: crate::Store::reopen
    #[error("the database is being reopened after a failed write; retry in a moment")]
    Reopening,
    /// sled reported a bug or an unsupported use (see the message).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => io.into(),
            sled::Error::Corruption { at, .. } => Self::corrupt(format!("sled page at {at:?}")),
            sled::Error::CollectionNotFound(name) => Self::Database(format!(
                "tree {:?} not found",
                String::from_utf8_lossy(&name)
            )),
            sled::Error::Unsupported(s) | sled::Error::ReportableBug(s) => Self::Database(s),
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(io: io::Error) -> Self {
        // ENOSPC and EDQUOT: no space left / quota exceeded.
        const ENOSPC: i32 = 28;
        const EDQUOT: i32 = 122;
        if io.kind() == io::ErrorKind::StorageFull
            || matches!(io.raw_os_error(), Some(ENOSPC | EDQUOT))
        {
            Self::DiskFull(io)
        } else if io.kind() == io::ErrorKind::WouldBlock
            || io.to_string().starts_with("could not acquire lock")
        {
            // sled takes an exclusive file lock and reports a held lock either
            // as WouldBlock or wrapped in an `Other` error naming the lock.
            Self::Locked(io)
        } else {
            Self::Io(io)
        }
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

/// Results of store calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_sled_lock_is_locked_in_either_form() {
        let wrapped = io::Error::other(
            "could not acquire lock on \"/tmp/x/db\": Os { code: 11, kind: WouldBlock }",
        );
        assert!(matches!(StoreError::from(wrapped), StoreError::Locked(_)));
        let bare = io::Error::from(io::ErrorKind::WouldBlock);
        assert!(matches!(StoreError::from(bare), StoreError::Locked(_)));
        let other = io::Error::other("something else");
        assert!(matches!(StoreError::from(other), StoreError::Io(_)));
    }
}
