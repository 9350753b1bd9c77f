//! Judging a photo by its bytes: JPEG or PNG whatever it claims to be, dimensions read from the
//! header before any decoding, so a decompression bomb is refused without allocating it, then a
//! bounded full decode to prove the data is whole.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

#[derive(Debug, Clone)]
pub struct PhotoLimits {
    pub max_pixels: u64,
    pub max_side: u32,
    pub max_alloc: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        // 50 megapixels covers every phone camera in the field; RGBA at that size is 200 MB.
        Self {
            max_pixels: 50_000_000,
            max_side: 12_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoVerdict {
    Ok {
        format: &'static str,
        width: u32,
        height: u32,
    },
    Undecodable(String),
    TooLarge(String),
}

pub fn judge(bytes: &[u8], limits: &PhotoLimits) -> PhotoVerdict {
    let reader = match ImageReader::new(Cursor::new(bytes)).with_guessed_format() {
        Ok(r) => r,
        Err(e) => return PhotoVerdict::Undecodable(format!("cannot read: {e}")),
    };
    let format = match reader.format() {
        Some(ImageFormat::Jpeg) => "jpeg",
        Some(ImageFormat::Png) => "png",
        _ => return PhotoVerdict::Undecodable("not a JPEG or PNG image".into()),
    };
    let (width, height) = match reader.into_dimensions() {
        Ok(d) => d,
        Err(e) => return PhotoVerdict::Undecodable(format!("unreadable header: {e}")),
    };
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width > limits.max_side || height > limits.max_side {
        return PhotoVerdict::TooLarge(format!(
            "{width}x{height} is over the limit of {} pixels",
            limits.max_pixels
        ));
    }
    let mut reader = match ImageReader::new(Cursor::new(bytes)).with_guessed_format() {
        Ok(r) => r,
        Err(e) => return PhotoVerdict::Undecodable(format!("cannot read: {e}")),
    };
    let mut l = Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    match reader.decode() {
        Ok(_) => PhotoVerdict::Ok {
            format,
            width,
            height,
        },
        Err(image::ImageError::Limits(e)) => PhotoVerdict::TooLarge(e.to_string()),
        Err(e) => PhotoVerdict::Undecodable(format!("corrupt image data: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/../../shared/fixtures/photos/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn fixtures_are_judged_by_their_bytes() {
        let l = PhotoLimits::default();
        assert!(matches!(
            judge(&fixture("h1_house.jpg"), &l),
            PhotoVerdict::Ok {
                format: "jpeg",
                width: 1600,
                height: 1200
            }
        ));
        assert!(matches!(
            judge(&fixture("house.png"), &l),
            PhotoVerdict::Ok { format: "png", .. }
        ));
        assert!(matches!(
            judge(&fixture("truncated.jpg"), &l),
            PhotoVerdict::Undecodable(_)
        ));
        assert!(matches!(
            judge(&fixture("not_an_image.jpg"), &l),
            PhotoVerdict::Undecodable(_)
        ));
        assert!(matches!(
            judge(&fixture("bomb_30000x30000.png"), &l),
            PhotoVerdict::TooLarge(_)
        ));
    }
}
