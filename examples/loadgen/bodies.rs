//! Request bodies, built before the clock starts: signed surveys with their photos as the field
//! app posts them (multipart), or OpenRosa submissions for an ODK Central server.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::registry::{Shape, Surveyor, name};
use crate::{BoxError, Rng, photos};

/// One prepared upload.
pub struct Body {
    /// The survey's id (the submission's, once acknowledged).
    pub id: String,
    /// Which surveyor (county) posts it: an index into the run's tokens.
    pub surveyor: usize,
    pub bytes: Vec<u8>,
    pub content_type: String,
    /// Built by the adversarial profile (reported apart when a run mixes the two).
    pub adversarial: bool,
    /// Where the bytes are in the spool file, when they were spooled (`bytes` is then empty).
    pub spooled: Option<(u64, usize)>,
}

impl Body {
    /// The body's length in bytes, wherever it is kept.
    pub fn size(&self) -> usize {
        self.spooled.map_or(self.bytes.len(), |(_, len)| len)
    }
}

/// Bodies written to a file as they are built and read back just before each is sent, so a
/// long run's prepared bodies (12 GB for ten minutes at 65/s) do not take the memory the
/// database's page cache needs: the file is synced and dropped from the page cache once
/// written, and each body's pages are dropped again after it is read.
pub struct Spool {
    file: std::fs::File,
}

/// Tell the kernel these pages of the file will not be needed again.
fn drop_cached(file: &std::fs::File, offset: u64, len: usize) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor; posix_fadvise only advises the kernel about its pages.
    unsafe {
        libc::posix_fadvise(
            file.as_raw_fd(),
            offset as libc::off_t,
            len as libc::off_t,
            libc::POSIX_FADV_DONTNEED,
        );
    }
}

impl Spool {
    /// Read `body` into `buf` (reused between bodies): its bytes.
    pub fn read<'b>(&self, body: &Body, buf: &'b mut Vec<u8>) -> std::io::Result<&'b [u8]> {
        use std::os::unix::fs::FileExt;
        let Some((offset, len)) = body.spooled else {
            buf.clear();
            buf.extend_from_slice(&body.bytes);
            return Ok(&buf[..]);
        };
        buf.resize(len, 0);
        self.file.read_exact_at(&mut buf[..], offset)?;
        drop_cached(&self.file, offset, len);
        Ok(&buf[..])
    }
}

/// Build `count` bodies as [`build`] does, `chunk` at a time, writing each chunk's bytes to a
/// new file at `path` (removed once opened: nothing is left behind) and keeping the rest.
pub fn build_spooled(
    plan: &Plan<'_>,
    mix: Option<(&Plan<'_>, usize)>,
    count: usize,
    threads: usize,
    path: &std::path::Path,
) -> Result<(Vec<Body>, Spool), BoxError> {
    use std::io::Write;
    const CHUNK: usize = 512;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    std::fs::remove_file(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &file);
    let mut bodies = Vec::with_capacity(count);
    let mut offset = 0u64;
    for start in (0..count).step_by(CHUNK) {
        for mut b in build_range(plan, mix, start..count.min(start + CHUNK), threads)? {
            out.write_all(&b.bytes)?;
            b.spooled = Some((offset, b.bytes.len()));
            offset += b.bytes.len() as u64;
            b.bytes = Vec::new();
            bodies.push(b);
        }
        out.flush()?;
        // Written out and dropped as it goes, so the page cache never holds the spool.
        file.sync_data()?;
        drop_cached(&file, 0, 0);
    }
    drop(out);
    Ok((bodies, Spool { file }))
}

/// What the profile puts in each survey.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Profile {
    /// A sweep: each survey a different household, its own photos, ~2% of surveys reusing a
    /// photo of another household, ~1% naming a person of another household.
    Realistic,
    /// The hostile case: half the surveys share one photo, half are versions of one household.
    Adversarial,
}

pub struct Plan<'a> {
    pub shape: &'a Shape,
    pub surveyors: &'a [Surveyor],
    pub template: &'a Value,
    pub profile: Profile,
    pub photo_size: (u32, u32),
    pub seed: u64,
    pub openrosa: Option<&'a str>,
    /// The run's "now" in Beijing time: visits are a few hours before it.
    pub now: chrono::DateTime<chrono::FixedOffset>,
    /// The registry's households this plan surveys (indices into the shape). Two plans mixed in
    /// one load get disjoint ranges, so the adversarial profile's "one household" is never one
    /// the realistic sweep also visits.
    pub households: std::ops::Range<usize>,
}

impl Plan<'_> {
    /// The registry split between a realistic sweep (the first nine tenths) and an adversarial
    /// plan mixed into it (the last tenth).
    pub fn split_households(n: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let cut = n - n / 10;
        (0..cut, cut..n)
    }
}

/// Survey `i`'s household: a permutation of the plan's households, so a sweep visits each
/// household once.
fn household_of(plan: &Plan<'_>, i: usize) -> usize {
    let n = plan.households.len().max(1);
    // An affine permutation of 0..n (the multiplier is prime and does not divide n).
    let a = [1_000_003usize, 999_983, 1_000_033]
        .into_iter()
        .find(|a| !n.is_multiple_of(*a))
        .unwrap_or(1);
    plan.households.start + (i.wrapping_mul(a).wrapping_add(plan.seed as usize)) % n
}

/// Build `count` bodies on `threads` threads; with `mix`, every `mix.1`-th of them (from the
/// first) is built by the `mix.0` plan instead, so two profiles run in one load, interleaved.
pub fn build(
    plan: &Plan<'_>,
    mix: Option<(&Plan<'_>, usize)>,
    count: usize,
    threads: usize,
) -> Result<Vec<Body>, BoxError> {
    build_range(plan, mix, 0..count, threads)
}

fn build_range(
    plan: &Plan<'_>,
    mix: Option<(&Plan<'_>, usize)>,
    range: std::ops::Range<usize>,
    threads: usize,
) -> Result<Vec<Body>, BoxError> {
    let threads = threads.max(1);
    let count = range.len();
    let first = range.start;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || -> Result<Vec<(usize, Body)>, String> {
                    (first + t..first + count)
                        .step_by(threads)
                        .map(|i| {
                            match mix {
                                Some((other, every)) if i % every == 0 => one(other, i / every),
                                Some((_, every)) => one(plan, i - i / every - 1),
                                None => one(plan, i),
                            }
                            .map(|b| (i, b))
                        })
                        .collect()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for h in handles {
            all.extend(h.join().map_err(|_| "a builder thread panicked")??);
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, b)| b).collect())
    })
}

fn one(plan: &Plan<'_>, i: usize) -> Result<Body, String> {
    let mut r = Rng::new(plan.seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let (h, versions_of_one) = match plan.profile {
        Profile::Realistic => (household_of(plan, i), false),
        Profile::Adversarial if i % 2 == 1 => (household_of(plan, 0), true),
        Profile::Adversarial => (household_of(plan, i + 1), false),
    };
    let (household, v) = plan.shape.household(h);
    let (clat, clon) = plan.shape.centroid(v);
    let place = (
        clat + (r.unit() - 0.5) * 0.01,
        clon + (r.unit() - 0.5) * 0.01,
    );
    let visited = plan.now - chrono::Duration::minutes(30 + (r.next_u64() % 600) as i64);
    let photo_at = |part: usize| (place.0 + 0.0005 * part as f64, place.1);
    let (w, hgt) = plan.photo_size;
    // Photo seeds: each survey its own, except the reused ones.
    let mut seeds = [i as u64 * 2 + 1, i as u64 * 2 + 2];
    let reused = match plan.profile {
        Profile::Realistic => i >= 50 && r.next_u64() % 100 < 2,
        Profile::Adversarial => !versions_of_one,
    };
    let mut taken = [visited, visited];
    let mut places = [photo_at(0), photo_at(1)];
    if reused {
        // Another household's photo, bytes and all: the same seed, time and place as there.
        let other = match plan.profile {
            Profile::Realistic => (r.next_u64() % i as u64) as usize,
            Profile::Adversarial => 0,
        };
        seeds[0] = other as u64 * 2 + 1;
        let mut o = Rng::new(plan.seed ^ (other as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let ov = plan.shape.household(household_of(plan, other)).1;
        let (olat, olon) = plan.shape.centroid(ov);
        let oplace = (
            olat + (o.unit() - 0.5) * 0.01,
            olon + (o.unit() - 0.5) * 0.01,
        );
        taken[0] = plan.now - chrono::Duration::minutes(30 + (o.next_u64() % 600) as i64);
        places[0] = oplace;
    }
    let mut photos = Vec::new();
    for (k, (part, kind)) in [("p1", "house"), ("p2", "household_with_verifier")]
        .into_iter()
        .enumerate()
    {
        let bytes = photos::photo(
            photos::seed_of(plan.seed, seeds[k]),
            w,
            hgt,
            taken[k],
            places[k],
        )?;
        photos.push((part, kind, bytes));
    }

    let count = crate::registry::members(h);
    let mut members: Vec<Value> = (0..count)
        .map(|m| {
            json!({
                "name": name(h, m),
                "id_number": plan.shape.id_number(h, m),
                "relation": if m == 0 { "head" } else { "child" },
                "schooling": if m == 0 { Value::Null } else { json!("enrolled") },
                "medical_insurance": true,
            })
        })
        .collect();
    if plan.profile == Profile::Realistic && i >= 50 && r.next_u64() % 100 < 1 {
        // A person also filed in another household's survey (a duplicate person).
        let other = household_of(plan, (r.next_u64() % i as u64) as usize);
        members.push(json!({
            "name": name(other, 1),
            "id_number": plan.shape.id_number(other, 1),
            "relation": "other",
            "schooling": Value::Null,
            "medical_insurance": true,
        }));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let county = household[4..6]
        .parse::<usize>()
        .map_err(|e| e.to_string())?
        - 1;
    let surveyor = county % plan.surveyors.len();
    if let Some(template) = plan.openrosa {
        return openrosa(template, &id, &household, visited, place, surveyor, &photos).map(|b| {
            Body {
                adversarial: plan.profile == Profile::Adversarial,
                ..b
            }
        });
    }
    let mut doc = plan.template.clone();
    doc["id"] = json!(id);
    doc["household_code"] = json!(household);
    doc["visited_at"] = json!(visited.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    doc["location"] = json!({"lat": place.0, "lon": place.1, "accuracy_m": 8.0});
    doc["members"] = Value::Array(members);
    doc["supersedes"] = Value::Null;
    doc["photos"] = Value::Array(
        photos
            .iter()
            .map(|(part, kind, b)| json!({"part": part, "kind": kind, "sha256": hex::encode(Sha256::digest(b))}))
            .collect(),
    );
    let s = &plan.surveyors[surveyor];
    let signed = fieldsurvey_core::signing::sign_survey(&doc, &s.seed, &s.key_id)
        .map_err(|e| e.to_string())?;
    let boundary = format!("loadgen{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::with_capacity(photos.iter().map(|p| p.2.len()).sum::<usize>() + 8_192);
    let mut part = |name: &str, ctype: &str, data: &[u8]| {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part("survey", "application/json", signed.to_string().as_bytes());
    for (name, _, bytes) in &photos {
        part(name, "image/jpeg", bytes);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Body {
        id: id.to_owned(),
        surveyor,
        bytes: out,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        adversarial: plan.profile == Profile::Adversarial,
        spooled: None,
    })
}

/// An OpenRosa submission (`xml_submission_file` and the photos as attachments) from a
/// template whose `{instance_id}`, `{household_code}`, `{visited_at}`, `{lat}`, `{lon}`,
/// `{p1}` and `{p2}` are filled in.
fn openrosa(
    template: &str,
    id: &str,
    household: &str,
    visited: chrono::DateTime<chrono::FixedOffset>,
    place: (f64, f64),
    surveyor: usize,
    photos: &[(&str, &str, Vec<u8>)],
) -> Result<Body, String> {
    let xml = template
        .replace("{instance_id}", &format!("uuid:{id}"))
        .replace("{household_code}", household)
        .replace(
            "{visited_at}",
            &visited.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
        .replace("{lat}", &format!("{:.6}", place.0))
        .replace("{lon}", &format!("{:.6}", place.1))
        .replace("{p1}", "p1.jpg")
        .replace("{p2}", "p2.jpg");
    let boundary = format!("loadgen{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::with_capacity(photos.iter().map(|p| p.2.len()).sum::<usize>() + 8_192);
    let mut part = |name: &str, file: &str, ctype: &str, data: &[u8]| {
        out.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part(
        "xml_submission_file",
        "submission.xml",
        "text/xml",
        xml.as_bytes(),
    );
    for (name, _, bytes) in photos {
        let file = format!("{name}.jpg");
        part(&file, &file, "image/jpeg", bytes);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Body {
        id: id.to_owned(),
        surveyor,
        bytes: out,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        adversarial: false,
        spooled: None,
    })
}
