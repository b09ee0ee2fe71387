//! The node's identity on disk: one ed25519 key in the data directory, readable by
//! its owner alone, and the data directory itself closed to others.
//!
//! The key file holds the 32 secret bytes and nothing else. A key file that others
//! can read is refused rather than repaired: someone may already have copied it, and
//! two nodes with one key would be two sequencers for the same items.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use swapmesh_protocol::SigningKey;

use crate::error::NodeError;

/// Name of the key file in the data directory.
pub const KEY_FILE: &str = "node.key";

/// Creates the data directory (mode 0700) if it is missing, and closes an existing
/// one to group and others.
pub fn prepare_data_dir(dir: &Path) -> Result<(), NodeError> {
    let io = |e| NodeError::io(dir, e);
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let meta = fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(NodeError::NotADirectory(dir.to_owned()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// The path of the key file in `dir`.
pub fn key_path(dir: &Path) -> PathBuf {
    dir.join(KEY_FILE)
}

/// Loads the key of `dir`, if there is one. Refuses a key file that group or others
/// can read or write, and one that is not exactly 32 bytes.
pub fn load_key(dir: &Path) -> Result<Option<SigningKey>, NodeError> {
    let path = key_path(dir);
    let mut file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io(&path, e)),
    };
    let mode = file
        .metadata()
        .map_err(|e| NodeError::io(&path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(NodeError::KeyFileExposed {
            path,
            mode: mode & 0o777,
        });
    }
    let mut bytes = Vec::with_capacity(32);
    Read::by_ref(&mut file)
        .take(33)
        .read_to_end(&mut bytes)
        .map_err(|e| NodeError::io(&path, e))?;
    let secret: [u8; 32] = bytes
        .try_into()
        .map_err(|_| NodeError::KeyFileMalformed(path.clone()))?;
    Ok(Some(SigningKey::from_bytes(&secret)))
}

/// Writes `key` as the key of `dir` (mode 0600, synced). Refuses to overwrite an
/// existing key.
pub fn write_key(dir: &Path, key: &SigningKey) -> Result<(), NodeError> {
    let path = key_path(dir);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => NodeError::KeyExists(path.clone()),
            _ => NodeError::io(&path, e),
        })?;
    file.write_all(&key.to_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| NodeError::io(&path, e))?;
    // The directory entry must be durable too, or a crash could lose the file.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NodeError::io(dir, e))
}

/// Loads the key of `dir`, creating one on first start.
pub fn load_or_create_key(dir: &Path) -> Result<SigningKey, NodeError> {
    prepare_data_dir(dir)?;
    if let Some(key) = load_key(dir)? {
        return Ok(key);
    }
    let key = swapmesh_protocol::keys::generate();
    write_key(dir, &key)?;
    Ok(key)
}

/// The libp2p identity of a node key: the same ed25519 key, so the `PeerId` and the
/// author key name one node.
pub fn libp2p_keypair(key: &SigningKey) -> swapmesh_net::Keypair {
    let mut secret = key.to_bytes();
    swapmesh_net::Keypair::ed25519_from_bytes(&mut secret)
        .expect("an ed25519 secret key is always 32 valid bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_mode_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let key = load_or_create_key(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&key_path(&dir)), 0o600);
        assert_eq!(load_or_create_key(&dir).unwrap().to_bytes(), key.to_bytes());
        assert!(matches!(
            write_key(&dir, &key),
            Err(NodeError::KeyExists(_))
        ));
    }

    #[test]
    fn readable_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        load_or_create_key(tmp.path()).unwrap();
        fs::set_permissions(key_path(tmp.path()), fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_key(tmp.path()).unwrap_err();
        assert!(
            matches!(err, NodeError::KeyFileExposed { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn truncated_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        load_or_create_key(tmp.path()).unwrap();
        let path = key_path(tmp.path());
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..20]).unwrap();
        assert!(matches!(
            load_key(tmp.path()),
            Err(NodeError::KeyFileMalformed(_))
        ));
    }

    #[test]
    fn peer_id_comes_from_the_same_key() {
        let key = swapmesh_protocol::keys::generate();
        let kp = libp2p_keypair(&key);
        let public = kp.public().try_into_ed25519().unwrap().to_bytes();
        assert_eq!(public, key.verifying_key().to_bytes());
    }
}
