//! Photos through the API and the CLI (issue 19): uploads under their own
//! 16 MiB limit while every other route keeps 64 KiB, only images taken and
//! bombs refused with the limit named and nothing stored, photos served as
//! JPEG with `nosniff` whatever came in, listings naming only held photos,
//! `--photo` / `--remove-photo` / `blob get`, and the README's photo walk
//! between two real nodes.

use std::io::Cursor;
use std::path::Path;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ImageEncoder, ImageFormat, Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::http::{Reply, call, metrics, sample, send};
use crate::kit::{Daemon, eventually, fails, ok};
use crate::openapi::daemon;

/// Posts `bytes` to `/api/v1/blobs` with `content_type` (none if `None`).
fn upload(d: &Daemon, content_type: Option<&str>, bytes: &[u8]) -> Reply {
    let token = format!("Bearer {}", d.token());
    let mut headers = vec![("Authorization", token.as_str())];
    if let Some(t) = content_type {
        headers.push(("Content-Type", t));
    }
    send(d, "POST", "/api/v1/blobs", &headers, Some(bytes), false)
}

/// GETs `path` with the token.
fn get(d: &Daemon, path: &str) -> Reply {
    call(d, "GET", path, None)
}

/// How many photos the node holds (its `/metrics`).
fn held(d: &Daemon) -> u64 {
    sample(&metrics(d), "swapmesh_blobs")
}

/// A PNG of `image`, encoded with `compression`.
fn png_of(image: &RgbImage, compression: CompressionType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, compression, FilterType::NoFilter)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encodes");
    out
}

/// A small photo-like image: a gradient, tinted by `tint`.
fn gradient(width: u32, height: u32, tint: u8) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, tint])
    })
}

/// A small PNG (a gradient tinted by `tint`, so each tint is another photo).
pub(crate) fn small_png(tint: u8) -> Vec<u8> {
    png_of(&gradient(400, 300, tint), CompressionType::Default)
}

/// A small JPEG (a gradient tinted by `tint`).
fn small_jpeg(tint: u8) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    gradient(400, 300, tint)
        .write_to(&mut out, ImageFormat::Jpeg)
        .expect("encodes");
    out.into_inner()
}

/// A valid PNG of seeded noise, 8000 px wide (the limit) and `height` tall:
/// noise does not compress, so the file is about 24,000 bytes per row, and
/// scaled to 1600 px wide it still fits in a 512 KiB JPEG.
fn noisy_png(height: u32, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut image = RgbImage::new(8_000, height);
    for pixel in image.pixels_mut() {
        *pixel = Rgb(rng.r#gen());
    }
    png_of(&image, CompressionType::Fast)
}

/// CRC-32 (ISO-HDLC) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG of a few dozen bytes declaring `width` × `height` RGB pixels: a
/// decompression bomb.
pub(crate) fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// blake3 of `bytes` in hex: a photo's name.
fn hash_of(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The error code of a reply.
fn code(reply: &Reply) -> String {
    reply.json()["code"].as_str().unwrap_or_default().to_owned()
}

const MIB: usize = 1024 * 1024;

#[test]
fn oversize_upload_is_413() {
    let (_dir, d) = daemon();
    let over = vec![0u8; 16 * MIB + 1];
    let reply = upload(&d, Some("image/jpeg"), &over);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(code(&reply), "body_too_large");
    assert!(
        reply.body.contains("16 MiB"),
        "names the limit: {}",
        reply.body
    );
    assert_eq!(held(&d), 0);

    // A 15 MiB photo (a valid PNG) is taken, and normalised to at most 512 KiB.
    let photo = noisy_png(660, 15);
    assert!(
        photo.len() > 15 * MIB && photo.len() < 16 * MIB,
        "{} bytes",
        photo.len()
    );
    let reply = upload(&d, Some("image/png"), &photo);
    assert_eq!(reply.status, 201, "{}", reply.body);
    let stored = reply.json();
    assert_eq!(stored["width"], 1_600, "{stored}");
    assert!(stored["bytes"].as_u64().unwrap() <= 512 * 1024, "{stored}");
    assert_eq!(stored["hash"].as_str().unwrap().len(), 64);
    assert_eq!(held(&d), 1);
}

#[test]
fn non_image_is_415() {
    let (_dir, d) = daemon();
    let photo = small_png(1);
    for content_type in [
        Some("text/plain"),
        Some("application/json"),
        Some("image/gif"),
        None,
    ] {
        let reply = upload(&d, content_type, &photo);
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
        assert_eq!(code(&reply), "unsupported_media_type");
        assert!(reply.body.contains("image/jpeg"), "{}", reply.body);
    }
    // An image type with bytes that are no image: 422, nothing stored.
    for bytes in [&b"hello, this is not a photo"[..], b"%PDF-1.7\n", b""] {
        let reply = upload(&d, Some("image/png"), bytes);
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(code(&reply), "not_an_image");
    }
    // A PNG cut short: sniffed as PNG, but it does not decode.
    let reply = upload(&d, Some("image/png"), &photo[..100]);
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(code(&reply), "not_an_image");
    assert_eq!(held(&d), 0, "a refused upload stored something");
}

#[test]
fn other_routes_keep_the_64_kib_limit() {
    let (_dir, d) = daemon();
    let listing =
        json!({"kinds": ["give"], "title": "Sofa", "description": "x".repeat(100 * 1024)});
    let reply = call(&d, "POST", "/api/v1/listings", Some(&listing));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(code(&reply), "body_too_large");
    assert!(reply.body.contains("65536 bytes"), "{}", reply.body);

    let sofa = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&json!({"d": "sofa", "kinds": ["give"], "title": "Sofa"})),
    );
    assert_eq!(sofa.status, 201, "{}", sofa.body);
    let id = sofa.json()["id"].as_str().unwrap().to_owned();
    let patch = json!({"description": "x".repeat(100 * 1024)});
    let reply = call(&d, "PATCH", &format!("/api/v1/listings/{id}"), Some(&patch));
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(code(&reply), "body_too_large");

    // The same size is fine as a photo: the 16 MiB limit is the upload's only.
    let photo = noisy_png(5, 64);
    assert!(photo.len() > 100 * 1024, "{} bytes", photo.len());
    let reply = upload(&d, Some("image/png"), &photo);
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// The daemon's peak resident set (`VmHWM`), in KiB.
fn peak_memory_kib(d: &Daemon) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

#[test]
fn decompression_bomb_upload_is_422() {
    let (_dir, d) = daemon();
    let bomb = png_declaring(100_000, 100_000);
    assert!(bomb.len() < 100);
    let peak_before = peak_memory_kib(&d);
    let reply = upload(&d, Some("image/png"), &bomb);
    assert_eq!(reply.status, 422, "{}", reply.body);
    // Memory stays bounded: the node's peak resident set grew by far less than
    // one row of the declared image would take (100,000 px × 3 bytes × 100,000
    // rows is 30 GB).
    let grown = peak_memory_kib(&d).saturating_sub(peak_before);
    assert!(grown < 64 * 1024, "the peak grew by {grown} KiB");
    assert_eq!(code(&reply), "image_too_large");
    assert!(
        reply.body.contains("8000 x 8000"),
        "names the limit: {}",
        reply.body
    );
    assert_eq!(held(&d), 0);
    // The node is fine afterwards.
    assert_eq!(upload(&d, Some("image/png"), &small_png(2)).status, 201);
}

#[test]
fn served_with_nosniff_and_image_type_only() {
    let (_dir, d) = daemon();
    for (content_type, photo) in [("image/png", small_png(3)), ("image/jpeg", small_jpeg(4))] {
        let stored = upload(&d, Some(content_type), &photo);
        assert_eq!(stored.status, 201, "{}", stored.body);
        let stored = stored.json();
        let hash = stored["hash"].as_str().unwrap().to_owned();
        assert_eq!(
            (&stored["width"], &stored["height"]),
            (&json!(400), &json!(300))
        );

        let full = get(&d, &format!("/api/v1/blobs/{hash}"));
        assert_eq!(full.status, 200, "{}", full.body);
        let thumb = get(&d, &format!("/api/v1/blobs/{hash}?size=thumb"));
        assert_eq!(thumb.status, 200, "{}", thumb.body);
        for reply in [&full, &thumb] {
            assert_eq!(reply.content_type(), "image/jpeg", "{content_type} in");
            assert_eq!(reply.header("x-content-type-options"), "nosniff");
            let cache = reply.header("cache-control");
            assert!(cache.contains("immutable"), "{cache}");
            assert!(reply.bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
            assert_eq!(
                image::guess_format(&reply.bytes).unwrap(),
                ImageFormat::Jpeg
            );
        }
        // The photo is the bytes its hash names; the thumbnail is at most 320 px.
        assert_eq!(hash_of(&full.bytes), hash);
        assert_eq!(full.bytes.len() as u64, stored["bytes"].as_u64().unwrap());
        let small = image::load_from_memory(&thumb.bytes).unwrap();
        assert_eq!(small.width().max(small.height()), 320);
    }

    let reply = get(&d, "/api/v1/blobs/not-a-hash");
    assert_eq!(
        (reply.status, code(&reply)),
        (400, "invalid_blob_hash".into())
    );
    let nobody = "0".repeat(64);
    let reply = get(&d, &format!("/api/v1/blobs/{nobody}"));
    assert_eq!(
        (reply.status, code(&reply)),
        (404, "photo_not_found".into())
    );
    assert!(reply.content_type().starts_with("application/json"));
    let reply = get(&d, &format!("/api/v1/blobs/{nobody}?size=huge"));
    assert_eq!(
        (reply.status, code(&reply)),
        (400, "invalid_parameter".into())
    );
    // Reads need the token like every route.
    let reply = send(
        &d,
        "GET",
        &format!("/api/v1/blobs/{nobody}"),
        &[],
        None,
        false,
    );
    assert_eq!((reply.status, code(&reply)), (401, "missing_token".into()));
}

#[test]
fn a_listing_naming_a_photo_not_held_is_422_naming_it() {
    let (_dir, d) = daemon();
    let missing = hash_of(b"a photo nobody uploaded");
    let listing = |photos: Value| json!({"d": "drill", "kinds": ["give"], "title": "Drill", "photos": photos});
    let reply = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&listing(json!([missing]))),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(code(&reply), "missing_photo");
    assert_eq!(reply.json()["field"], "photos");
    assert!(
        reply.body.contains(&missing),
        "names the hash: {}",
        reply.body
    );

    let reply = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&listing(json!(["cafe"]))),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(code(&reply), "invalid_field");
    assert_eq!(reply.json()["field"], "photos[0]");
    let none = call(&d, "GET", "/api/v1/listings?limit=500", None).json();
    assert_eq!(
        none["listings"],
        json!([]),
        "a refused listing was published"
    );

    // Held photos are taken, in order; a patch replaces the list.
    let a = upload(&d, Some("image/png"), &small_png(10)).json()["hash"].clone();
    let b = upload(&d, Some("image/png"), &small_png(20)).json()["hash"].clone();
    let reply = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&listing(json!([a, b]))),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["photos"], json!([a, b]));
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/listings/{id}");
    let reply = call(&d, "PATCH", &path, Some(&json!({"photos": [b, missing]})));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(code(&reply), "missing_photo");
    assert!(reply.body.contains(&missing), "{}", reply.body);
    assert_eq!(get(&d, &path).json()["photos"], json!([a, b]), "unchanged");
    let reply = call(&d, "PATCH", &path, Some(&json!({"photos": [b]})));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(get(&d, &path).json()["photos"], json!([b]));
    let reply = call(&d, "PATCH", &path, Some(&json!({"title": "Drill, 18 V"})));
    assert_eq!(reply.json()["photos"], json!([b]), "kept when not given");
}

/// `listing show --json` on `dir`'s node.
fn show(dir: &Path, listing: &str) -> Value {
    serde_json::from_str(&ok(dir, &["listing", "show", listing, "--json"])).unwrap()
}

#[test]
fn removing_a_photo_from_the_cli_detaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let _d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    let files = tempfile::tempdir().unwrap();
    let front = files.path().join("front.png");
    let back = files.path().join("back.jpg");
    let case = files.path().join("case.webp-but-really-a-png");
    std::fs::write(&front, small_png(30)).unwrap();
    std::fs::write(&back, small_jpeg(40)).unwrap();
    std::fs::write(&case, small_png(50)).unwrap();
    let (front, back, case) = (
        front.to_str().unwrap(),
        back.to_str().unwrap(),
        case.to_str().unwrap(),
    );

    let out = ok(
        dir.path(),
        &[
            "listing", "add", "--title", "Drill", "--kind", "give", "--name", "drill", "--photo",
            front, "--photo", back,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("photo ") && lines[0].contains("front.png"),
        "{out}"
    );
    assert!(lines[2].starts_with("drill  v1"), "{out}");
    let photos = show(dir.path(), "drill")["photos"].clone();
    let photos: Vec<String> = serde_json::from_value(photos).unwrap();
    assert_eq!(photos.len(), 2);
    assert!(
        lines[0].contains(&photos[0]) && lines[1].contains(&photos[1]),
        "{out}"
    );

    // Detach the first by a start of its hash; the other stays.
    ok(
        dir.path(),
        &[
            "listing",
            "update",
            "drill",
            "--remove-photo",
            &photos[0][..10],
        ],
    );
    let listing = show(dir.path(), "drill");
    assert_eq!(listing["photos"], json!([photos[1]]));
    assert_eq!(listing["version"], 2);
    let text = ok(dir.path(), &["listing", "show", "drill"]);
    assert!(text.contains(&photos[1]), "{text}");
    assert!(!text.contains(&photos[0]), "{text}");

    // --photo on update appends; a hash not on the listing, or a missing
    // file, is one line and changes nothing.
    ok(dir.path(), &["listing", "update", "drill", "--photo", case]);
    let now = show(dir.path(), "drill")["photos"].clone();
    assert_eq!(now.as_array().unwrap().len(), 2);
    assert_eq!(now[0], json!(photos[1]));
    let error = fails(
        dir.path(),
        &["listing", "update", "drill", "--remove-photo", &photos[0]],
    );
    assert!(error.contains("no photo"), "{error}");
    let error = fails(
        dir.path(),
        &[
            "listing",
            "add",
            "--title",
            "Lamp",
            "--kind",
            "give",
            "--photo",
            "/nowhere/lamp.jpg",
        ],
    );
    assert!(
        error.contains("cannot read photo /nowhere/lamp.jpg"),
        "{error}"
    );
    assert_eq!(error.trim().lines().count(), 1, "{error}");
    assert_eq!(show(dir.path(), "drill")["version"], 3);
}

#[test]
fn the_readme_photo_walk_works() {
    let (ana_dir, ben_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ana = Daemon::neighbour(ana_dir.path(), None);
    let _ben = Daemon::neighbour(ben_dir.path(), Some(&ana));
    let files = tempfile::tempdir().unwrap();
    let drill = files.path().join("drill.jpg");
    std::fs::write(&drill, small_jpeg(60)).unwrap();

    // Ana: the walk's `listing add`, with `--photo drill.jpg`.
    let out = ok(
        ana_dir.path(),
        &[
            "listing",
            "add",
            "--title",
            "Cordless drill",
            "--kind",
            "rent",
            "--kind",
            "share",
            "--price",
            "5",
            "--per",
            "day",
            "--deposit",
            "50",
            "--tag",
            "tools",
            "--photo",
            drill.to_str().unwrap(),
        ],
    );
    let hash = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("photo "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no photo line: {out}"))
        .to_owned();
    let name = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let author: Value = serde_json::from_str(&ok(ana_dir.path(), &["status", "--json"])).unwrap();
    let short = author["author"].as_str().unwrap()[..8].to_owned();

    // Ben sees the listing with its photo, and saves the photo from Ana's node.
    eventually("Ben to hold the listing", || {
        ok(
            ben_dir.path(),
            &["browse", "--area", "u4pru", "--query", "drill"],
        )
        .contains(&name)
    });
    let shown = ok(ben_dir.path(), &["listing", "show", &short]);
    assert!(shown.contains(&hash), "{shown}");
    let saved = files.path().join("ben-drill.jpg");
    ok(
        ben_dir.path(),
        &["blob", "get", &hash, "-o", saved.to_str().unwrap()],
    );
    let bytes = std::fs::read(&saved).unwrap();
    assert_eq!(hash_of(&bytes), hash, "the bytes the hash names");
    let thumb = files.path().join("ben-drill-thumb.jpg");
    ok(
        ben_dir.path(),
        &[
            "blob",
            "get",
            &hash,
            "--thumb",
            "-o",
            thumb.to_str().unwrap(),
        ],
    );
    let small = image::load_from_memory(&std::fs::read(&thumb).unwrap()).unwrap();
    assert!(small.width() <= 320 && small.height() <= 320);
    let error = fails(ben_dir.path(), &["blob", "get", &"0".repeat(64), "-o", "-"]);
    assert!(error.contains("photo_not_found"), "{error}");
}
