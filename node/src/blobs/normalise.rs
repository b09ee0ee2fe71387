//! Normalising an uploaded photo: sniff, decode under limits, turn upright, drop
//! every piece of metadata, scale down and re-encode as a bounded JPEG.
//!
//! Only the pixels survive: the output is written by `image`'s JPEG encoder from
//! a plain RGB buffer, so no EXIF (GPS, camera, orientation), XMP, IPTC or ICC
//! segment of the upload can reach it. The encoder settings are constants here
//! and the `image` minor version is pinned, so the same upload gives the same
//! bytes, and so the same [`BlobHash`], on this node.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::error::LimitErrorKind;
use image::imageops::FilterType;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage,
};
use swapmesh_protocol::BlobHash;

/// Largest width and height of an upload, in pixels.
pub(crate) const MAX_DIMENSION: u32 = 8_000;
/// Most memory decoding an upload may allocate, in bytes.
pub(crate) const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Longest side of a normalised photo, in pixels.
pub(crate) const MAX_SIDE: u32 = 1_600;
/// Largest normalised photo, in bytes (the blob protocol's frame limit).
pub(crate) const MAX_BYTES: usize = 512 * 1024;
/// Longest side of a thumbnail, in pixels.
pub(crate) const THUMB_SIDE: u32 = 320;
/// JPEG qualities tried in order until the photo fits [`MAX_BYTES`].
const QUALITIES: [u8; 7] = [85, 75, 65, 55, 45, 35, 25];
/// JPEG quality of thumbnails.
const THUMB_QUALITY: u8 = 80;
/// The scaling filter (fixed: it decides the bytes, and so the hash).
const FILTER: FilterType = FilterType::CatmullRom;

/// A normalised photo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Normalised {
    /// The JPEG bytes, at most [`MAX_BYTES`].
    pub(crate) bytes: Vec<u8>,
    /// blake3 of `bytes`: the photo's name.
    pub(crate) hash: BlobHash,
    /// Width in pixels, upright.
    pub(crate) width: u32,
    /// Height in pixels, upright.
    pub(crate) height: u32,
}

/// Which limit an upload is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Wider or taller than [`MAX_DIMENSION`].
    Dimensions,
    /// Decoding would allocate more than [`MAX_ALLOC`].
    Allocation,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dimensions => write!(
                f,
                "over the limit of {MAX_DIMENSION} x {MAX_DIMENSION} pixels"
            ),
            Self::Allocation => write!(
                f,
                "decoding needs more than the limit of {} MiB",
                MAX_ALLOC / (1024 * 1024)
            ),
        }
    }
}

/// Why an upload was refused. Nothing is stored for any of them.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NormaliseError {
    /// The bytes are not a JPEG, PNG or WebP image.
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// The image is over a limit; decoding stopped before allocating it.
    #[error("the image is too large: {0}")]
    TooLarge(Limit),
    /// A JPEG, PNG or WebP that does not decode (truncated, corrupt, or a
    /// variant the decoder does not support).
    #[error("the image does not decode: {0}")]
    Undecodable(String),
    /// Even at the lowest quality the JPEG is over [`MAX_BYTES`].
    #[error("the photo does not fit in {max} bytes even at JPEG quality {quality}")]
    CannotFit {
        /// The byte limit.
        max: usize,
        /// The lowest quality tried.
        quality: u8,
    },
}

impl From<ImageError> for NormaliseError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::Limits(l) => match l.kind() {
                LimitErrorKind::DimensionError => Self::TooLarge(Limit::Dimensions),
                _ => Self::TooLarge(Limit::Allocation),
            },
            other => Self::Undecodable(other.to_string()),
        }
    }
}

/// Normalises an upload: see the module docs. Refuses anything but a decodable
/// JPEG, PNG or WebP within the limits.
pub(crate) fn normalise(bytes: &[u8]) -> Result<Normalised, NormaliseError> {
    let image = scaled(decode_upright(bytes)?, MAX_SIDE);
    let (width, height) = image.dimensions();
    for quality in QUALITIES {
        let jpeg = encode_jpeg(&image, quality)?;
        if jpeg.len() <= MAX_BYTES {
            return Ok(Normalised {
                hash: BlobHash(*blake3::hash(&jpeg).as_bytes()),
                bytes: jpeg,
                width,
                height,
            });
        }
    }
    Err(NormaliseError::CannotFit {
        max: MAX_BYTES,
        quality: QUALITIES[QUALITIES.len() - 1],
    })
}

/// A thumbnail of a photo (at most [`THUMB_SIDE`] px on the long side, JPEG),
/// derived locally from a stored (normalised) photo and never sent. Takes any
/// upload [`normalise`] takes, under the same limits.
pub(crate) fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, NormaliseError> {
    let image = scaled(decode_upright(bytes)?, THUMB_SIDE);
    encode_jpeg(&image, THUMB_QUALITY)
}

/// The limits every decode runs under.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Sniffs, decodes under [`limits`] and applies the EXIF orientation; the result
/// is RGB(A) pixels and nothing else.
fn decode_upright(bytes: &[u8]) -> Result<RgbImage, NormaliseError> {
    let format = image::guess_format(bytes).map_err(|_| NormaliseError::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(NormaliseError::NotAnImage);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    // Checks the declared dimensions (PNG: also the decoder's own allocations).
    let mut decoder = reader.into_decoder()?;
    // `into_decoder` does not reserve the output buffer against the limit (only
    // `ImageReader::decode` does): check it before allocating.
    let (w, h) = decoder.dimensions();
    if w > MAX_DIMENSION || h > MAX_DIMENSION {
        return Err(NormaliseError::TooLarge(Limit::Dimensions));
    }
    if decoder.total_bytes() > MAX_ALLOC {
        return Err(NormaliseError::TooLarge(Limit::Allocation));
    }
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    Ok(flatten(image))
}

/// RGB pixels; transparent pixels are put on white (JPEG has no alpha, and
/// dropping it would show whatever colour transparent pixels happen to carry).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(src.0[3]);
        for c in 0..3 {
            let v = (u32::from(src.0[c]) * a + 255 * (255 - a) + 127) / 255;
            dst.0[c] = v as u8;
        }
    }
    out
}

/// Scales down so the long side is at most `side` (never up).
fn scaled(image: RgbImage, side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    if w.max(h) <= side {
        return image;
    }
    let (nw, nh) = if w >= h {
        (side, scale_side(h, side, w))
    } else {
        (scale_side(w, side, h), side)
    };
    image::imageops::resize(&image, nw, nh, FILTER)
}

/// `short * side / long`, rounded, at least 1.
fn scale_side(short: u32, side: u32, long: u32) -> u32 {
    let v = (u64::from(short) * u64::from(side) + u64::from(long) / 2) / u64::from(long);
    (v as u32).max(1)
}

/// Baseline JPEG of RGB pixels at `quality`, without any metadata segment.
fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, NormaliseError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgb};

    use super::*;

    const RED: Rgb<u8> = Rgb([255, 0, 0]);
    const BLUE: Rgb<u8> = Rgb([0, 0, 255]);

    /// The GPS latitude of the fixture (51/1, 30/1, 1234567/100000 as
    /// little-endian rationals): a byte string that must not survive.
    fn gps_latitude() -> Vec<u8> {
        [(51u32, 1u32), (30, 1), (1_234_567, 100_000)]
            .iter()
            .flat_map(|(n, d)| n.to_le_bytes().into_iter().chain(d.to_le_bytes()))
            .collect()
    }

    /// A little-endian TIFF block (the payload of an EXIF APP1 segment): IFD0 with
    /// Orientation = 6 and a GPS IFD pointer; the GPS IFD with GPSLatitudeRef = N
    /// and GPSLatitude.
    fn exif_with_gps_and_orientation_6() -> Vec<u8> {
        fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value);
        }
        const SHORT: u16 = 3;
        const LONG: u16 = 4;
        const ASCII: u16 = 2;
        const RATIONAL: u16 = 5;
        let mut t = b"II\x2a\x00".to_vec();
        t.extend_from_slice(&8u32.to_le_bytes());
        // IFD0 at 8: 2 entries, 30 bytes, so the GPS IFD is at 38.
        t.extend_from_slice(&2u16.to_le_bytes());
        entry(&mut t, 0x0112, SHORT, 1, [6, 0, 0, 0]);
        entry(&mut t, 0x8825, LONG, 1, 38u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(t.len(), 38);
        // GPS IFD at 38: 2 entries, 30 bytes, so the latitude is at 68.
        t.extend_from_slice(&2u16.to_le_bytes());
        entry(&mut t, 0x0001, ASCII, 2, *b"N\0\0\0");
        entry(&mut t, 0x0002, RATIONAL, 3, 68u32.to_le_bytes());
        t.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(t.len(), 68);
        t.extend_from_slice(&gps_latitude());
        t
    }

    /// A 96 × 48 JPEG whose top 16 rows are red and the rest blue, as a camera
    /// held on its side stores it, with EXIF orientation 6 and GPS tags.
    fn sideways_photo_with_gps() -> Vec<u8> {
        let image = RgbImage::from_fn(96, 48, |_, y| if y < 16 { RED } else { BLUE });
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut out, 95);
        encoder
            .set_exif_metadata(exif_with_gps_and_orientation_6())
            .unwrap();
        encoder
            .write_image(image.as_raw(), 96, 48, ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn is_near(pixel: Rgb<u8>, want: Rgb<u8>) -> bool {
        pixel.0.iter().zip(want.0).all(|(a, b)| a.abs_diff(b) < 40)
    }

    #[test]
    fn upload_strips_gps_and_orientation_is_applied() {
        let upload = sideways_photo_with_gps();
        // The fixture carries what must go.
        assert!(contains(&upload, b"Exif\0\0"));
        assert!(contains(&upload, &gps_latitude()));
        let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&upload)).unwrap();
        assert_eq!(
            decoder.orientation().unwrap(),
            image::metadata::Orientation::Rotate90
        );

        let n = normalise(&upload).unwrap();

        assert!(!contains(&n.bytes, &gps_latitude()), "GPS survived");
        assert!(!contains(&n.bytes, b"Exif"), "EXIF survived");
        // No APP1 segment (EXIF or XMP): 0xFF 0xE1 can only be a marker, since
        // entropy-coded 0xFF bytes are stuffed as 0xFF 0x00.
        assert!(
            !contains(&n.bytes, &[0xFF, 0xE1]),
            "an APP1 segment survived"
        );
        assert_eq!(n.hash, BlobHash(*blake3::hash(&n.bytes).as_bytes()));

        // Rotated 90° clockwise: 48 wide, 96 high, the red top rows now the
        // right-hand columns.
        assert_eq!((n.width, n.height), (48, 96));
        let decoded = image::load_from_memory(&n.bytes).unwrap().into_rgb8();
        assert_eq!(decoded.dimensions(), (48, 96));
        // And read back, nothing asks for another turn.
        let mut again = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&n.bytes)).unwrap();
        assert_eq!(
            again.orientation().unwrap(),
            image::metadata::Orientation::NoTransforms
        );
        for y in [8, 48, 88] {
            assert!(
                is_near(*decoded.get_pixel(44, y), RED),
                "right column at {y}"
            );
            assert!(
                is_near(*decoded.get_pixel(4, y), BLUE),
                "left column at {y}"
            );
            assert!(is_near(*decoded.get_pixel(24, y), BLUE), "middle at {y}");
        }
    }

    #[test]
    fn normalising_is_deterministic() {
        // A larger, noisy photo so scaling and the quality loop both run.
        let image = RgbImage::from_fn(2_000, 1_200, |x, y| {
            let v = x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503);
            Rgb([v as u8, (v >> 8) as u8, (x + y) as u8])
        });
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(image.as_raw(), 2_000, 1_200, ExtendedColorType::Rgb8)
            .unwrap();

        let a = normalise(&png).unwrap();
        let b = normalise(&png).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_eq!(a.bytes, b.bytes);
        assert_eq!((a.width, a.height), (1_600, 960));
        assert!(a.bytes.len() <= MAX_BYTES);
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

    /// A PNG of a few dozen bytes declaring `width` × `height` RGB pixels.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
        png_chunk(&mut png, b"IHDR", &ihdr);
        // An empty zlib stream: the decoder never gets this far.
        png_chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        png_chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn decompression_bomb_is_refused() {
        let bomb = png_declaring(100_000, 100_000);
        assert!(bomb.len() < 100);
        // Refused from the header, before anything of its size is allocated
        // (decoding it would need 40 GB; the test process would die).
        let err = normalise(&bomb).unwrap_err();
        assert!(
            matches!(err, NormaliseError::TooLarge(Limit::Dimensions)),
            "{err:?}"
        );
        assert!(err.to_string().contains("8000 x 8000"), "{err}");
        // Thumbnails decode under the same limits.
        assert!(matches!(
            thumbnail(&bomb),
            Err(NormaliseError::TooLarge(Limit::Dimensions))
        ));
    }

    #[test]
    fn non_image_is_refused() {
        for bytes in [
            &b""[..],
            b"hello, this is not a photo",
            b"%PDF-1.7\n",
            // A GIF header: an image, but not one we take.
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        ] {
            let err = normalise(bytes).unwrap_err();
            assert!(matches!(err, NormaliseError::NotAnImage), "{err:?}");
        }
        // A JPEG cut short after its first bytes: sniffed as JPEG, but it does
        // not decode.
        let truncated = &sideways_photo_with_gps()[..40];
        assert!(matches!(
            normalise(truncated),
            Err(NormaliseError::Undecodable(_))
        ));
    }

    #[test]
    fn webp_and_transparent_png_are_taken() {
        // Lossless WebP (the encoder `image` has); a transparent PNG comes out on
        // white, not on whatever colour its transparent pixels carry.
        let pixels = image::RgbaImage::from_fn(40, 20, |x, _| {
            if x < 20 {
                image::Rgba([0, 0, 0, 0])
            } else {
                image::Rgba([0, 0, 255, 255])
            }
        });
        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .write_image(pixels.as_raw(), 40, 20, ExtendedColorType::Rgba8)
            .unwrap();
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(pixels.as_raw(), 40, 20, ExtendedColorType::Rgba8)
            .unwrap();
        for upload in [webp, png] {
            let n = normalise(&upload).unwrap();
            assert_eq!((n.width, n.height), (40, 20));
            let decoded = image::load_from_memory(&n.bytes).unwrap().into_rgb8();
            assert!(is_near(*decoded.get_pixel(5, 10), Rgb([255, 255, 255])));
            assert!(is_near(*decoded.get_pixel(35, 10), BLUE));
        }
    }

    #[test]
    fn thumbnail_is_small_and_upright() {
        let n = normalise(&sideways_photo_with_gps()).unwrap();
        let big = RgbImage::from_pixel(1_000, 500, RED);
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(big.as_raw(), 1_000, 500, ExtendedColorType::Rgb8)
            .unwrap();
        let thumb = thumbnail(&png).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 160));
        // A photo already under 320 px keeps its size.
        let small = image::load_from_memory(&thumbnail(&n.bytes).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (48, 96));
    }
}
