//! Photos from the command line: uploading a file for `listing add|update
//! --photo`, naming a listing's photo by a unique start of its hash for
//! `--remove-photo`, and `blob get`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use super::args::BlobCommand;
use super::client;
use crate::api::json::BlobJson;
use crate::client::Client;
use crate::data_dir::DataDir;

/// Most bytes `blob get` reads: a photo is at most 512 KiB, with room to spare.
const MAX_READ: u64 = 4 * 1024 * 1024;

/// The `Content-Type` of an image file: by its first bytes, else by its
/// extension; `None` for anything but JPEG, PNG and WebP.
pub(super) fn content_type(bytes: &[u8], path: &Path) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Uploads the image file at `path`; prints its hash unless `json`.
pub(super) fn upload(c: &Client, path: &Path, json: bool) -> anyhow::Result<BlobJson> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read photo {}", path.display()))?;
    let Some(kind) = content_type(&bytes, path) else {
        bail!("photo {} is not a JPEG, PNG or WebP image", path.display());
    };
    let photo: BlobJson = c
        .post_bytes("/blobs", kind, &bytes)
        .with_context(|| format!("photo {}", path.display()))?;
    if !json {
        println!(
            "photo {}  {}  {}x{}, {} bytes",
            photo.hash,
            path.display(),
            photo.width,
            photo.height,
            photo.bytes
        );
    }
    Ok(photo)
}

/// The one photo of `photos` that `given` names: its hash, or a unique start
/// of it.
pub(super) fn named<'a>(photos: &'a [String], given: &str) -> anyhow::Result<&'a String> {
    let given = given.trim().to_ascii_lowercase();
    if given.is_empty() {
        bail!("--remove-photo needs a photo hash, or a unique start of one");
    }
    let matching: Vec<&String> = photos.iter().filter(|h| h.starts_with(&given)).collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => bail!(
            "the listing has no photo {given} (its photos: {})",
            list(photos)
        ),
        many => bail!(
            "{given} starts several of the listing's photos: {}",
            many.iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn list(photos: &[String]) -> String {
    if photos.is_empty() {
        "none".to_owned()
    } else {
        photos.join(", ")
    }
}

/// `blob` subcommands.
pub(super) fn run(dir: &DataDir, command: BlobCommand) -> anyhow::Result<()> {
    match command {
        BlobCommand::Get {
            hash,
            output,
            thumb,
            client: args,
        } => {
            let c = client(dir, &args)?;
            let hash = hash.trim();
            let size = if thumb { "?size=thumb" } else { "" };
            let bytes = c.get_bytes(&format!("/blobs/{hash}{size}"), MAX_READ)?;
            match output.as_deref() {
                Some(path) if path != Path::new("-") => {
                    std::fs::write(path, &bytes)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {} bytes to {}", bytes.len(), path.display());
                }
                _ => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_guessed_from_bytes_then_extension() {
        let p = Path::new("x.bin");
        assert_eq!(
            content_type(&[0xFF, 0xD8, 0xFF, 0xE0], p),
            Some("image/jpeg")
        );
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n....", p), Some("image/png"));
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 ", p), Some("image/webp"));
        assert_eq!(
            content_type(b"hello", Path::new("a.JPG")),
            Some("image/jpeg")
        );
        assert_eq!(content_type(b"hello", p), None);
    }

    #[test]
    fn a_photo_is_named_by_a_unique_start_of_its_hash() {
        let photos = vec!["ab12".repeat(16), "ab34".repeat(16)];
        assert_eq!(named(&photos, "ab3").unwrap(), &photos[1]);
        assert_eq!(named(&photos, &photos[0]).unwrap(), &photos[0]);
        assert!(
            named(&photos, "ab")
                .unwrap_err()
                .to_string()
                .contains("several")
        );
        assert!(
            named(&photos, "ff")
                .unwrap_err()
                .to_string()
                .contains("no photo")
        );
    }
}
