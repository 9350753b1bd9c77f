//! What a photo is, judged by its bytes and nothing it claims about itself.
//!
//! [`examine`] is the worker's evidence stage for one photo: the format from the magic bytes
//! (JPEG or PNG, nothing else), the dimensions from the header and judged against [`Limits`]
//! before any pixel buffer exists, then a bounded decode — JPEG scaled in the DCT domain by
//! libjpeg-turbo to the smallest size a thumbnail needs, stopping at the first warning — and
//! from that one small image: the EXIF orientation applied, a 320 px thumbnail (re-encoded, so
//! no metadata survives) and a 64-bit difference hash for finding the same scene re-encoded.
//! The evidence hash stays the SHA-256 of the original bytes; nothing here changes them.
//!
//! [`examine_full_decode`] is the same answer the straightforward way (the `image` crate's full
//! decode, then `thumbnail`): the baseline the benchmark measures against.

pub mod exif;
pub mod fuzzing;
pub mod jpeg;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage};

/// Longer side of the thumbnail kept beside each original.
pub const THUMB_SIDE: u32 = 320;
/// What the thumbnail is called among an original's derived files.
pub const THUMB_NAME: &str = "t320.jpg";

/// The budget one photo may cost, set before decoding begins.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Pixels the header may declare (width × height).
    pub max_pixels: u64,
    /// Longest side the header may declare.
    pub max_side: u32,
    /// libjpeg-turbo's cap on intermediate buffers (progressive and multi-scan JPEG), MB.
    pub max_decoder_memory_mb: u32,
    /// A PNG has no scaled decoding: its whole decoded frame must fit in this many bytes.
    pub max_png_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // 50 megapixels covers every phone camera in the field. A 50 MP progressive 4:2:0 JPEG
        // keeps 150 MB of coefficients; baseline JPEGs (what phones write) keep none. A PNG
        // (screenshots, scans) is held whole: 64 MiB is 16 MP of RGBA.
        Self {
            max_pixels: 50_000_000,
            max_side: 12_000,
            max_decoder_memory_mb: 160,
            max_png_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// Judge declared dimensions: the bomb is refused here, before any allocation.
    pub fn check(&self, width: u32, height: u32) -> Result<(), Refusal> {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels || width > self.max_side || height > self.max_side {
            return Err(Refusal::TooLarge(format!(
                "{width}x{height} is over the limit of {} pixels ({} on a side)",
                self.max_pixels, self.max_side
            )));
        }
        Ok(())
    }
}

/// Why a photo is not accepted as evidence (rejection codes `photo_undecodable` and
/// `photo_too_large`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Undecodable(String),
    #[error("{0}")]
    TooLarge(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }
}

/// The format by magic bytes, never by name or declared type.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else {
        None
    }
}

/// What the evidence stage learns from one photo.
#[derive(Debug, Clone)]
pub struct Examined {
    pub format: Format,
    /// As stored (before orientation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation, 1 (as stored) to 8.
    pub orientation: u8,
    /// 64-bit difference hash of the upright image.
    pub phash: u64,
    /// JPEG, longer side [`THUMB_SIDE`] (or the photo's own if smaller), upright, no metadata.
    pub thumbnail: Vec<u8>,
}

/// The evidence stage for one photo: bounded, scaled decoding (see the module documentation).
pub fn examine(bytes: &[u8], limits: &Limits) -> Result<Examined, Refusal> {
    let format =
        sniff(bytes).ok_or_else(|| Refusal::Undecodable("not a JPEG or PNG image".into()))?;
    let (width, height, small, orientation) = match format {
        Format::Jpeg => {
            let d = jpeg::decode_scaled(bytes, limits, THUMB_SIDE)?;
            let orientation = exif::orientation(bytes).unwrap_or(1);
            (d.width, d.height, d.scaled, orientation)
        }
        Format::Png => decode_png(bytes, limits)?,
    };
    finish(
        format,
        width,
        height,
        small,
        orientation,
        FilterType::Lanczos3,
    )
}

/// The baseline: the `image` crate's full decode (same limits, same checks), then its
/// `thumbnail`. Same kind of answer as [`examine`], several times slower on phone photos.
pub fn examine_full_decode(bytes: &[u8], limits: &Limits) -> Result<Examined, Refusal> {
    let format =
        sniff(bytes).ok_or_else(|| Refusal::Undecodable("not a JPEG or PNG image".into()))?;
    if format == Format::Png {
        let (w, h, small, o) = decode_png(bytes, limits)?;
        return finish(format, w, h, small, o, FilterType::Triangle);
    }
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes))
        .map_err(|e| Refusal::Undecodable(format!("unreadable JPEG header: {e}")))?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let orientation = exif::orientation(bytes).unwrap_or(1);
    let full = DynamicImage::from_decoder(decoder)
        .map_err(|e| Refusal::Undecodable(format!("corrupt JPEG data: {e}")))?;
    let small = full.thumbnail(THUMB_SIDE, THUMB_SIDE).to_rgb8();
    finish(
        format,
        width,
        height,
        small,
        orientation,
        FilterType::Triangle,
    )
}

fn decode_png(bytes: &[u8], limits: &Limits) -> Result<(u32, u32, RgbImage, u8), Refusal> {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_png_bytes);
    let mut decoder = image::codecs::png::PngDecoder::with_limits(std::io::Cursor::new(bytes), l)
        .map_err(|e| match e {
        image::ImageError::Limits(e) => Refusal::TooLarge(format!("PNG over the limit: {e}")),
        e => Refusal::Undecodable(format!("unreadable PNG header: {e}")),
    })?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    // Checked here rather than trusted to `max_alloc` (image-rs/image#3081: not every path
    // honours it): the frame is allocated only if it fits.
    if decoder.total_bytes() > limits.max_png_bytes {
        return Err(Refusal::TooLarge(format!(
            "a {width}x{height} PNG needs {} MiB decoded, over the limit of {} MiB",
            decoder.total_bytes() >> 20,
            limits.max_png_bytes >> 20
        )));
    }
    let orientation = decoder
        .orientation()
        .ok()
        .map(Orientation::to_exif)
        .unwrap_or(1);
    let full = DynamicImage::from_decoder(decoder)
        .map_err(|e| Refusal::Undecodable(format!("corrupt PNG data: {e}")))?;
    let rgb = full.thumbnail(THUMB_SIDE * 2, THUMB_SIDE * 2).to_rgb8();
    Ok((width, height, rgb, orientation))
}

fn finish(
    format: Format,
    width: u32,
    height: u32,
    small: RgbImage,
    orientation: u8,
    filter: FilterType,
) -> Result<Examined, Refusal> {
    let mut upright = DynamicImage::ImageRgb8(small);
    if let Some(o) = Orientation::from_exif(orientation) {
        upright.apply_orientation(o);
    }
    let upright = upright.to_rgb8();
    let (w, h) = fit(upright.width(), upright.height(), THUMB_SIDE);
    let thumb = if (w, h) == upright.dimensions() {
        upright
    } else {
        resize(&upright, w, h, filter)
    };
    let phash = dhash(&thumb);
    let thumbnail = jpeg::encode_rgb(&thumb, 80)
        .map_err(|e| Refusal::Undecodable(format!("thumbnail could not be written: {e}")))?;
    Ok(Examined {
        format,
        width,
        height,
        orientation: Orientation::from_exif(orientation).map_or(1, |_| orientation),
        phash,
        thumbnail,
    })
}

/// Resize with fast_image_resize's SIMD convolution (the `image` crate's own resize takes 4 ms
/// for 500 × 375 → 320 × 240 with Lanczos3, as long as the scaled decode itself).
fn resize(src: &RgbImage, width: u32, height: u32, filter: FilterType) -> RgbImage {
    use fast_image_resize as fr;
    let alg = fr::ResizeAlg::Convolution(match filter {
        FilterType::Lanczos3 => fr::FilterType::Lanczos3,
        FilterType::CatmullRom => fr::FilterType::CatmullRom,
        FilterType::Nearest | FilterType::Triangle | FilterType::Gaussian => {
            fr::FilterType::Bilinear
        }
    });
    let resized =
        fr::images::ImageRef::new(src.width(), src.height(), src.as_raw(), fr::PixelType::U8x3)
            .ok()
            .and_then(|view| {
                let mut dst = fr::images::Image::new(width, height, fr::PixelType::U8x3);
                fr::Resizer::new()
                    .resize(&view, &mut dst, &fr::ResizeOptions::new().resize_alg(alg))
                    .ok()?;
                RgbImage::from_raw(width, height, dst.into_vec())
            });
    // Sizes and buffers are ours and consistent; the `image` crate's resize is the fallback.
    resized.unwrap_or_else(|| image::imageops::resize(src, width, height, filter))
}

/// Width and height scaled so the longer side is at most `side` (never enlarged).
fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= side {
        return (width.max(1), height.max(1));
    }
    let scale = |d: u32| {
        ((u64::from(d) * u64::from(side) + u64::from(longer) / 2) / u64::from(longer)).max(1) as u32
    };
    (scale(width), scale(height))
}

/// The 64-bit difference hash: the image in grey at 9 × 8, one bit per horizontally adjacent
/// pair, set where the left pixel is brighter. Re-encoding, rescaling and mild colour changes
/// move few bits; another scene moves about half of them.
pub fn dhash(image: &RgbImage) -> u64 {
    let grey = image::imageops::grayscale(image);
    let tiny = image::imageops::resize(&grey, 9, 8, FilterType::Triangle);
    let mut hash = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            let left = tiny.get_pixel(x, y).0[0];
            let right = tiny.get_pixel(x + 1, y).0[0];
            hash = (hash << 1) | u64::from(left > right);
        }
    }
    hash
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/../../shared/fixtures/photos/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn distance(a: u64, b: u64) -> u32 {
        (a ^ b).count_ones()
    }

    #[test]
    fn fixtures_are_judged_by_their_bytes() {
        let l = Limits::default();
        let h1 = examine(&fixture("h1_house.jpg"), &l).unwrap();
        assert_eq!((h1.format, h1.width, h1.height), (Format::Jpeg, 1600, 1200));
        let png = examine(&fixture("house.png"), &l).unwrap();
        assert_eq!(png.format, Format::Png);
        for (name, what) in [
            ("truncated.jpg", "undecodable"),
            ("not_an_image.jpg", "undecodable"),
            ("bomb_30000x30000.png", "too large"),
        ] {
            let got = examine(&fixture(name), &l);
            let ok = matches!(
                (what, &got),
                ("undecodable", Err(Refusal::Undecodable(_)))
                    | ("too large", Err(Refusal::TooLarge(_)))
            );
            assert!(ok, "{name}: expected {what}, got {got:?}");
        }
    }

    #[test]
    fn a_truncated_jpeg_is_refused_even_past_a_readable_header() {
        // Cut a real photo in half: the header reads, the entropy-coded data ends early. The
        // decoder's warning must be an error, not a grey lower half.
        let whole = fixture("h2_house.jpg");
        let cut = &whole[..whole.len() / 2];
        assert!(jpeg::dimensions(cut).is_ok());
        assert!(matches!(
            examine(cut, &Limits::default()),
            Err(Refusal::Undecodable(_))
        ));
    }

    #[test]
    fn the_thumbnail_is_small_upright_and_has_no_metadata() {
        let big = examine(&fixture("large_4000x3000.jpg"), &Limits::default()).unwrap();
        let thumb = image::load_from_memory(&big.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
        assert!(
            exif::read(&big.thumbnail, chrono::FixedOffset::east_opt(0).unwrap())
                == exif::Exif::default()
        );
        // EXIF orientation 6 (rotate 90° clockwise): a landscape original becomes portrait.
        let turned = with_orientation(&fixture("h1_house.jpg"), 6);
        let e = examine(&turned, &Limits::default()).unwrap();
        assert_eq!(e.orientation, 6);
        let t = image::load_from_memory(&e.thumbnail).unwrap();
        assert_eq!((t.width(), t.height()), (240, 320));
    }

    #[test]
    fn the_perceptual_hash_finds_the_reencoded_house_and_tells_houses_apart() {
        let l = Limits::default();
        let hash = |n: &str| examine(&fixture(n), &l).unwrap().phash;
        let original = hash("h1_house.jpg");
        let again = hash("h1_house_reencoded.jpg");
        assert!(
            distance(original, again) <= 6,
            "{}",
            distance(original, again)
        );
        for other in [
            "h2_house.jpg",
            "h3_house.jpg",
            "h1_water_source.jpg",
            "far_and_old.jpg",
        ] {
            let d = distance(original, hash(other));
            assert!(d > 6, "{other} is {d} bits from h1_house");
        }
        // Scaled and full decoding agree closely enough for the threshold to mean the same.
        let full = examine_full_decode(&fixture("h1_house.jpg"), &l)
            .unwrap()
            .phash;
        assert!(
            distance(original, full) <= 4,
            "{}",
            distance(original, full)
        );
    }

    /// A copy of a JPEG with a minimal EXIF APP1 segment carrying only `Orientation`.
    fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08"); // big-endian, IFD at 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut app1 = b"Exif\x00\x00".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        // Drop the original's own APP1 (if any) so ours is the one read.
        let mut rest = &jpeg[2..];
        while rest.len() > 4 && rest[0] == 0xFF && (0xE0..=0xEF).contains(&rest[1]) {
            let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            if rest[1] != 0xE1 {
                out.extend_from_slice(&rest[..2 + len]);
            }
            rest = &rest[2 + len..];
        }
        out.extend_from_slice(rest);
        out
    }
}
