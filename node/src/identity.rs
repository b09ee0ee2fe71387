//! The node's identity on disk: one ed25519 key in the data directory, readable by
//! its owner alone, and the data directory itself closed to others.
//!
//! The key file holds the 32 secret bytes and nothing else. A key file that others
//! can read is refused rather than repaired: someone may already have copied it, and
//! two nodes with one key would be two sequencers for the same items.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use swapmesh_protocol::SigningKey;

use crate::data_dir::DataDir;
use crate::error::NodeError;

/// Loads the key of `dir`, if there is one. Refuses a key file that group or others
/// can read or write, and one that is not exactly 32 bytes.
pub fn load_key(dir: &DataDir) -> Result<Option<SigningKey>, NodeError> {
    let path = dir.key_file();
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
pub fn write_key(dir: &DataDir, key: &SigningKey) -> Result<(), NodeError> {
    let path = dir.key_file();
    dir.write_private(&path, &key.to_bytes())
        .map_err(|e| match e {
            NodeError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
                NodeError::KeyExists(path.clone())
            }
            other => other,
        })
}

/// Loads the key of `dir`, creating one on first start.
pub fn load_or_create_key(dir: &DataDir) -> Result<SigningKey, NodeError> {
    dir.prepare()?;
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
    use std::path::Path;

    #[test]
    fn key_is_created_once_with_mode_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        let key = load_or_create_key(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&dir.key_file()), 0o600);
        assert_eq!(load_or_create_key(&dir).unwrap().to_bytes(), key.to_bytes());
        assert!(matches!(
            write_key(&dir, &key),
            Err(NodeError::KeyExists(_))
        ));
    }

    #[test]
    fn readable_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        load_or_create_key(&dir).unwrap();
        fs::set_permissions(dir.key_file(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_key(&dir).unwrap_err();
        assert!(
            matches!(err, NodeError::KeyFileExposed { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn truncated_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        load_or_create_key(&dir).unwrap();
        let path = dir.key_file();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..20]).unwrap();
        assert!(matches!(
            load_key(&dir),
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
