//! What a photo's EXIF says about when and where it was taken (kamadak-exif: reads the TIFF
//! structure inside JPEG and PNG; no decoding of pixels).

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};

/// Capture time and place, as far as the photo says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exif {
    /// `DateTimeOriginal` with `OffsetTimeOriginal` when present; otherwise read in the
    /// visit's own offset (a phone records local time).
    pub taken_at: Option<DateTime<FixedOffset>>,
    /// Decimal degrees (north and east positive).
    pub gps: Option<(f64, f64)>,
    /// EXIF `Orientation` (1..=8) when it says something other than "as stored".
    pub orientation: Option<u8>,
}

pub fn read(bytes: &[u8], default_offset: FixedOffset) -> Exif {
    // Phones and editors write slightly malformed EXIF often enough: keep what could be read.
    let Ok(data) = exif::Reader::new()
        .continue_on_error(true)
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .or_else(|e| e.distill_partial_result(|_| {}))
    else {
        return Exif::default();
    };
    let ascii = |tag: exif::Tag| -> Option<String> {
        let f = data.get_field(tag, exif::In::PRIMARY)?;
        match &f.value {
            exif::Value::Ascii(v) => v
                .first()
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|s| s.trim().to_owned()),
            _ => None,
        }
    };
    let taken_at = ascii(exif::Tag::DateTimeOriginal)
        .or_else(|| ascii(exif::Tag::DateTime))
        .and_then(|t| NaiveDateTime::parse_from_str(&t, "%Y:%m:%d %H:%M:%S").ok())
        .and_then(|local| {
            let offset = ascii(exif::Tag::OffsetTimeOriginal)
                .and_then(|o| {
                    DateTime::parse_from_str(
                        &format!("2000-01-01T00:00:00{o}"),
                        "%Y-%m-%dT%H:%M:%S%:z",
                    )
                    .ok()
                })
                .map(|d| *d.offset())
                .unwrap_or(default_offset);
            offset.from_local_datetime(&local).single()
        });
    let degrees = |tag: exif::Tag, reference: exif::Tag, negative: &str| -> Option<f64> {
        let f = data.get_field(tag, exif::In::PRIMARY)?;
        let exif::Value::Rational(parts) = &f.value else {
            return None;
        };
        let [d, m, s] = parts.as_slice() else {
            return None;
        };
        let value = d.to_f64() + m.to_f64() / 60.0 + s.to_f64() / 3600.0;
        let sign = match ascii(reference) {
            Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
            _ => 1.0,
        };
        value.is_finite().then_some(sign * value)
    };
    let gps = degrees(exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef, "S").zip(degrees(
        exif::Tag::GPSLongitude,
        exif::Tag::GPSLongitudeRef,
        "W",
    ));
    let orientation = data
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u8::try_from(o).ok())
        .filter(|o| (2..=8).contains(o));
    Exif {
        taken_at,
        gps,
        orientation,
    }
}

/// Only the orientation (for decoding without a visit to compare with).
pub fn orientation(bytes: &[u8]) -> Option<u8> {
    read(bytes, chrono::FixedOffset::east_opt(0)?).orientation
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/fixtures/photos")
                .join(name),
        )
        .unwrap_or_default()
    }

    #[test]
    fn the_fixtures_say_when_and_where() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let h1 = read(&fixture("h1_house.jpg"), cst);
        let t = h1.taken_at.expect("h1 has a capture time");
        assert_eq!(t.date_naive().to_string(), "2026-11-20");
        let (lat, lon) = h1.gps.expect("h1 has GPS");
        assert!(
            (lat - 26.07).abs() < 0.1 && (lon - 107.96).abs() < 0.1,
            "{lat},{lon}"
        );
        assert_eq!(read(&fixture("no_exif.jpg"), cst), Exif::default());
        let old = read(&fixture("far_and_old.jpg"), cst);
        assert!(old.taken_at.is_some() && old.gps.is_some(), "{old:?}");
        assert_eq!(read(b"not an image", cst), Exif::default());
    }
}
