//! Evidence photos, generated: a JPEG of a random scene with structure at several scales (so
//! each photo's perceptual hash is its own: [`near_twins`] checks a sample before a run) with fine grain (so it weighs what a phone photo of the size does), carrying EXIF
//! capture time (with its offset) and GPS place, as a phone writes them.

use exif::experimental::Writer;
use exif::{Field, In, Rational, Tag, Value};

use crate::Rng;

/// The seed of photo `n` of the run seeded `run`. Mixed, not XORed: with `run ^ n`, two runs
/// whose seeds differ in a few low bits (process ids) drew the same scenes for different
/// photo numbers, so a run on a kept database re-filed the previous run's scenes and nearly
/// every sign-off was flagged as reused.
pub fn seed_of(run: u64, n: u64) -> u64 {
    Rng::new(run ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// One photo's JPEG bytes, `width` × `height`, taken at `taken` (local time with offset) at
/// `place` (lat, lon).
pub fn photo(
    seed: u64,
    width: u32,
    height: u32,
    taken: chrono::DateTime<chrono::FixedOffset>,
    place: (f64, f64),
) -> Result<Vec<u8>, String> {
    let mut r = Rng::new(seed);
    // A few broad colour fields give each scene its own coarse structure.
    let blobs: Vec<(f64, f64, f64, [f64; 3])> = (0..6)
        .map(|_| {
            (
                r.unit() * f64::from(width),
                r.unit() * f64::from(height),
                (0.15 + 0.35 * r.unit()) * f64::from(width.max(height)),
                [r.unit() * 255.0, r.unit() * 255.0, r.unit() * 255.0],
            )
        })
        .collect();
    // Light and shade: a random brightness on a 13 × 11 lattice over the frame, interpolated.
    // A real scene (walls, doors, trees, sky) has structure at every scale; without this the
    // broad fields alone left neighbouring cells of the 9 × 8 perceptual hash nearly equal, so
    // most generated photos hashed within a few bits of each other and the reuse check flagged
    // 95% of a run as the same scene.
    const KX: usize = 13;
    const KY: usize = 11;
    let shade: Vec<f64> = (0..KX * KY).map(|_| (r.unit() - 0.5) * 140.0).collect();
    let shade_at = |fx: f64, fy: f64| {
        let u = (fx / f64::from(width)).clamp(0.0, 1.0) * (KX - 1) as f64;
        let v = (fy / f64::from(height)).clamp(0.0, 1.0) * (KY - 1) as f64;
        let (i, j) = ((u as usize).min(KX - 2), (v as usize).min(KY - 2));
        let (tu, tv) = (u - i as f64, v - j as f64);
        let at = |di: usize, dj: usize| shade[(j + dj) * KX + i + di];
        (at(0, 0) * (1.0 - tu) + at(1, 0) * tu) * (1.0 - tv)
            + (at(0, 1) * (1.0 - tu) + at(1, 1) * tu) * tv
    };
    // The scene on a coarse grid (one cell per 16 pixels), interpolated, then grain per pixel.
    const CELL: u32 = 16;
    let (gw, gh) = (width / CELL + 2, height / CELL + 2);
    let mut grid = vec![[0.0f64; 3]; (gw * gh) as usize];
    for gy in 0..gh {
        for gx in 0..gw {
            let (fx, fy) = (f64::from(gx * CELL), f64::from(gy * CELL));
            let mut c = [96.0f64, 110.0, 90.0];
            for (bx, by, radius, colour) in &blobs {
                let w = (-((fx - bx).powi(2) + (fy - by).powi(2)) / (radius * radius)).exp();
                for k in 0..3 {
                    c[k] = c[k] * (1.0 - w) + colour[k] * w;
                }
            }
            let light = shade_at(fx, fy);
            for v in &mut c {
                *v += light;
            }
            grid[(gy * gw + gx) as usize] = c;
        }
    }
    let mut img = image::RgbImage::new(width, height);
    let mut grain = Rng::new(seed ^ 0x5EED);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (gx, gy) = (x / CELL, y / CELL);
        let (tx, ty) = (
            f64::from(x % CELL) / f64::from(CELL),
            f64::from(y % CELL) / f64::from(CELL),
        );
        let at = |dx: u32, dy: u32| grid[((gy + dy) * gw + gx + dx) as usize];
        let (a, b, c, d) = (at(0, 0), at(1, 0), at(0, 1), at(1, 1));
        let n = grain.next_u64();
        for k in 0..3 {
            let v =
                (a[k] * (1.0 - tx) + b[k] * tx) * (1.0 - ty) + (c[k] * (1.0 - tx) + d[k] * tx) * ty;
            let noise = ((n >> (k * 8)) & 0x1F) as f64 - 16.0;
            px.0[k] = (v + noise).clamp(0.0, 255.0) as u8;
        }
    }
    let jpeg = fieldsurvey_evidence::jpeg::encode_rgb(&img, 85)?;
    with_exif(&jpeg, taken, place)
}

fn dms(deg: f64) -> Vec<Rational> {
    let d = deg.abs();
    let whole = d.floor();
    let minutes = ((d - whole) * 60.0).floor();
    let seconds = ((d - whole) * 60.0 - minutes) * 60.0;
    vec![
        Rational::from((whole as u32, 1)),
        Rational::from((minutes as u32, 1)),
        Rational::from(((seconds * 1000.0).round() as u32, 1000)),
    ]
}

fn ascii(tag: Tag, text: String) -> Field {
    Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![text.into_bytes()]),
    }
}

/// `jpeg` with an APP1 EXIF segment right after its SOI marker.
fn with_exif(
    jpeg: &[u8],
    taken: chrono::DateTime<chrono::FixedOffset>,
    (lat, lon): (f64, f64),
) -> Result<Vec<u8>, String> {
    let fields = [
        ascii(Tag::Make, "loadgen".into()),
        ascii(
            Tag::DateTimeOriginal,
            taken.format("%Y:%m:%d %H:%M:%S").to_string(),
        ),
        ascii(Tag::OffsetTimeOriginal, taken.format("%:z").to_string()),
        ascii(
            Tag::GPSLatitudeRef,
            if lat >= 0.0 { "N" } else { "S" }.into(),
        ),
        Field {
            tag: Tag::GPSLatitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(dms(lat)),
        },
        ascii(
            Tag::GPSLongitudeRef,
            if lon >= 0.0 { "E" } else { "W" }.into(),
        ),
        Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(dms(lon)),
        },
    ];
    let mut w = Writer::new();
    for f in &fields {
        w.push_field(f);
    }
    let mut tiff = std::io::Cursor::new(Vec::new());
    w.write(&mut tiff, false).map_err(|e| e.to_string())?;
    let tiff = tiff.into_inner();
    let len = u16::try_from(2 + 6 + tiff.len()).map_err(|_| "EXIF too large")?;
    if jpeg.get(..2) != Some(&[0xFF, 0xD8]) {
        return Err("not a JPEG".into());
    }
    let mut out = Vec::with_capacity(jpeg.len() + tiff.len() + 10);
    out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    Ok(out)
}

/// Of `photos` (distinct generated JPEGs), how many have another within the service's reuse
/// distance by the service's own perceptual hash: a load whose photos look alike to the hash
/// measures a flood of `photo_reused` flags, not the realistic 2%.
pub fn near_twins(photos: &[&[u8]]) -> Result<usize, String> {
    let limits = fieldsurvey_evidence::Limits::default();
    let hashes = photos
        .iter()
        .map(|b| {
            fieldsurvey_evidence::examine(b, &limits)
                .map(|e| e.phash)
                .map_err(|e| format!("a generated photo does not decode: {e:?}"))
        })
        .collect::<Result<Vec<u64>, String>>()?;
    let near = |a: u64, b: u64| (a ^ b).count_ones() <= fieldsurvey_core::photos::REUSE_DISTANCE;
    Ok(hashes
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            hashes
                .iter()
                .enumerate()
                .any(|(j, b)| *i != j && near(**a, *b))
        })
        .count())
}
