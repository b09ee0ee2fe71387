//! [`DataDir`]: the one place that knows the files of a node's data directory,
//! where it is found, and how a private file is written.
//!
//! ```text
//! DIR/              mode 0700
//!   node.key        the ed25519 secret key, 32 bytes, 0600 (identity.rs)
//!   api-token       the API's bearer token, 0600
//!   metrics-token   a bearer token that reads /metrics and nothing else, 0600
//!   api-addr        where the running node's API listens (gone when it stops)
//!   swapmesh.toml   the config file (settings.rs)
//!   lock            held by the running node: one node per directory
//!   db/             the sled database (swapmesh-store)
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::NodeError;

/// The key file.
pub const KEY_FILE: &str = "node.key";
/// The API token file.
pub const API_TOKEN_FILE: &str = "api-token";
/// The file of the token that reads `/metrics` only.
pub const METRICS_TOKEN_FILE: &str = "metrics-token";
/// The shortest token accepted: 32 characters (128 bits of hex). New tokens
/// are 64 hex characters (256 bits).
pub const MIN_TOKEN_CHARS: usize = 32;
/// The file `swapmesh run` writes with the API's actual address.
pub const API_ADDR_FILE: &str = "api-addr";
/// The config file.
pub const CONFIG_FILE: &str = "swapmesh.toml";
/// The lock file held by the running node.
pub const LOCK_FILE: &str = "lock";
/// The database directory.
pub const DB_DIR: &str = "db";
/// The directory of photo files, named by their hash.
pub const BLOBS_DIR: &str = "blobs";

/// A node's data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    path: PathBuf,
}

impl DataDir {
    /// The data directory at `path` (nothing is created yet: see
    /// [`DataDir::prepare`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `--data-dir`, else `$SWAPMESH_DATA_DIR`, else the platform's data
    /// directory (`$XDG_DATA_HOME/swapmesh` or `~/.local/share/swapmesh`).
    pub fn locate(flag: Option<PathBuf>) -> Self {
        Self::locate_with(flag, |k| std::env::var_os(k).map(PathBuf::from))
    }

    fn locate_with(flag: Option<PathBuf>, env: impl Fn(&str) -> Option<PathBuf>) -> Self {
        if let Some(dir) = flag.or_else(|| env("SWAPMESH_DATA_DIR")) {
            return Self::new(dir);
        }
        if let Some(xdg) = env("XDG_DATA_HOME") {
            return Self::new(xdg.join("swapmesh"));
        }
        let home = env("HOME").unwrap_or_else(|| PathBuf::from("."));
        Self::new(home.join(".local/share/swapmesh"))
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key file.
    pub fn key_file(&self) -> PathBuf {
        self.path.join(KEY_FILE)
    }

    /// The API token file.
    pub fn api_token_file(&self) -> PathBuf {
        self.path.join(API_TOKEN_FILE)
    }

    /// The metrics token file.
    pub fn metrics_token_file(&self) -> PathBuf {
        self.path.join(METRICS_TOKEN_FILE)
    }

    /// The file naming the running API's address.
    pub fn api_addr_file(&self) -> PathBuf {
        self.path.join(API_ADDR_FILE)
    }

    /// The config file.
    pub fn config_file(&self) -> PathBuf {
        self.path.join(CONFIG_FILE)
    }

    /// The photo files (`blobs/`).
    pub fn blobs(&self) -> PathBuf {
        self.path.join(BLOBS_DIR)
    }

    /// The database directory.
    pub fn database(&self) -> PathBuf {
        self.path.join(DB_DIR)
    }

    /// Creates the directory (mode 0700) if it is missing, and closes an existing
    /// one to group and others.
    pub fn prepare(&self) -> Result<(), NodeError> {
        let dir = &self.path;
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

    /// Writes a new file readable by its owner alone (0600), synced, with its
    /// directory entry synced too. Refuses to overwrite: `Err` with
    /// [`std::io::ErrorKind::AlreadyExists`] inside [`NodeError::Io`].
    pub fn write_private(&self, path: &Path, contents: &[u8]) -> Result<(), NodeError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| NodeError::io(path, e))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| NodeError::io(path, e))?;
        // The directory entry must be durable too, or a crash could lose the file.
        fs::File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(|e| NodeError::io(&self.path, e))
    }

    /// Creates the API token and the metrics token (32 random bytes in hex
    /// each, 0600) unless they exist. Each is written whole or not at all: a
    /// temporary file, synced, renamed into place, the directory synced. So a
    /// crash leaves no token file or a whole one, and the next start writes
    /// a missing one.
    pub fn ensure_api_token(&self) -> Result<(), NodeError> {
        for path in [self.api_token_file(), self.metrics_token_file()] {
            if !path.exists() {
                let token = hex::encode(rand::random::<[u8; 32]>());
                self.write_private_atomic(&path, token.as_bytes())?;
            }
        }
        Ok(())
    }

    /// Writes a private file (0600) whole or not at all, replacing any: see
    /// [`DataDir::ensure_api_token`].
    fn write_private_atomic(&self, path: &Path, contents: &[u8]) -> Result<(), NodeError> {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(".tmp");
        let tmp = self.path.join(name);
        let _ = fs::remove_file(&tmp);
        self.write_private(&tmp, contents)?;
        if cfg!(debug_assertions)
            && std::env::var("SWAPMESH_FAULT").as_deref() == Ok("token-before-rename")
        {
            // The crash test: written and synced, never renamed.
            std::process::abort();
        }
        fs::rename(&tmp, path).map_err(|e| NodeError::io(path, e))?;
        fs::File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(|e| NodeError::io(&self.path, e))
    }

    /// The API token. An empty or short one (under [`MIN_TOKEN_CHARS`]) is
    /// refused: [`NodeError::WeakToken`] names the file and the fix.
    pub fn api_token(&self) -> Result<String, NodeError> {
        read_token(&self.api_token_file())
    }

    /// The token that reads `/metrics` and nothing else (checked like the
    /// API token).
    pub fn metrics_token(&self) -> Result<String, NodeError> {
        read_token(&self.metrics_token_file())
    }

    /// Says where the running node's API listens (replaced atomically).
    pub fn write_api_addr(&self, addr: SocketAddr) -> Result<(), NodeError> {
        let path = self.api_addr_file();
        let tmp = self.path.join(format!("{API_ADDR_FILE}.tmp"));
        fs::write(&tmp, format!("{addr}\n")).map_err(|e| NodeError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| NodeError::io(&path, e))
    }

    /// Forgets the API address (the node stops).
    pub fn remove_api_addr(&self) {
        let _ = fs::remove_file(self.api_addr_file());
    }

    /// Takes the directory's lock, held as long as the returned value lives: one
    /// running node per directory.
    pub fn lock(&self) -> Result<DirLock, NodeError> {
        let path = self.path.join(LOCK_FILE);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| NodeError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(NodeError::Locked(self.path.clone())),
            Err(fs::TryLockError::Error(e)) => Err(NodeError::io(&path, e)),
        }
    }
}

/// A token file's token, trimmed, if it is long enough.
fn read_token(path: &Path) -> Result<String, NodeError> {
    let token = fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| NodeError::io(path, e))?;
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(NodeError::WeakToken {
            path: path.to_owned(),
            found: token.chars().count(),
        });
    }
    Ok(token)
}

impl From<PathBuf> for DataDir {
    fn from(path: PathBuf) -> Self {
        Self::new(path)
    }
}

impl From<&Path> for DataDir {
    fn from(path: &Path) -> Self {
        Self::new(path)
    }
}

/// The lock of a data directory; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: fs::File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_variable_then_xdg_then_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| PathBuf::from(v))
            }
        };
        let all = env(&[
            ("SWAPMESH_DATA_DIR", "/v"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            DataDir::locate_with(Some("/f".into()), all).path(),
            Path::new("/f")
        );
        assert_eq!(DataDir::locate_with(None, all).path(), Path::new("/v"));
        let xdg = env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            DataDir::locate_with(None, xdg).path(),
            Path::new("/x/swapmesh")
        );
        let home = env(&[("HOME", "/h")]);
        assert_eq!(
            DataDir::locate_with(None, home).path(),
            Path::new("/h/.local/share/swapmesh")
        );
    }

    #[test]
    fn private_files_are_0600_and_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        dir.prepare().unwrap();
        dir.ensure_api_token().unwrap();
        let token = dir.api_token().unwrap();
        assert_eq!(token.len(), 64);
        let mode = fs::metadata(dir.api_token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        dir.ensure_api_token().unwrap();
        assert_eq!(dir.api_token().unwrap(), token);
        assert!(dir.write_private(&dir.api_token_file(), b"x").is_err());
    }

    #[test]
    fn a_second_lock_on_one_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        let held = dir.lock().unwrap();
        assert!(matches!(dir.lock(), Err(NodeError::Locked(_))));
        drop(held);
        dir.lock().unwrap();
    }
}
