//! A prefecture-sized registry, generated: counties → townships → villages → households, with
//! ID numbers that pass their check character, and one surveyor (with a signing key) per
//! county. Deterministic from the seed, so `registry` and `run` agree without sharing state.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Rng;

pub const PREFECTURE: &str = "522700000000";
pub const TOWNSHIPS_PER_COUNTY: usize = 10;

pub struct Shape {
    pub villages: usize,
    pub households: usize,
    pub seed: u64,
}

impl Shape {
    pub fn counties(&self) -> usize {
        // 20 villages a township, 10 townships a county.
        self.villages.div_ceil(20 * TOWNSHIPS_PER_COUNTY).max(1)
    }

    pub fn village_code(&self, v: usize) -> String {
        let (county, rest) = (v / 200, v % 200);
        let (township, village) = (rest / 20, rest % 20);
        format!(
            "5227{:02}{:03}{:03}",
            county + 1,
            101 + township,
            201 + village
        )
    }

    pub fn centroid(&self, v: usize) -> (f64, f64) {
        let mut r = Rng::new(self.seed ^ (v as u64).wrapping_mul(0x9E37_79B9));
        (25.0 + 2.0 * r.unit(), 106.5 + 2.5 * r.unit())
    }

    /// Household `h` (0-based): its code and village index.
    pub fn household(&self, h: usize) -> (String, usize) {
        let v = h % self.villages;
        let n = h / self.villages + 1;
        (format!("{}-{n:04}", self.village_code(v)), v)
    }

    /// Member `m` of household `h`: an ID number registered in the household's county.
    pub fn id_number(&self, h: usize, m: usize) -> String {
        let (_, v) = self.household(h);
        let region = &self.village_code(v)[..6];
        let person = h * 8 + m;
        let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new((person / 997 % 25_000) as u64)))
            .unwrap_or_default();
        id_with_check(&format!(
            "{region}{}{:03}",
            birth.format("%Y%m%d"),
            person % 997
        ))
    }

    pub fn surveyor(&self, county: usize) -> Surveyor {
        let mut seed = [0u8; 32];
        let mut r = Rng::new(self.seed ^ 0xC0FF_EE00 ^ county as u64);
        for b in &mut seed {
            *b = r.next_u64() as u8;
        }
        let public = fieldsurvey_core::signing::public_key_of(&seed);
        Surveyor {
            username: format!("loadgen-s{:02}", county + 1),
            password: format!("loadgen-{:02}-{:x}", county + 1, self.seed),
            org: format!("5227{:02}000000", county + 1),
            key_id: fieldsurvey_core::signing::key_id_for(&public),
            public_key: URL_SAFE_NO_PAD.encode(public),
            seed,
        }
    }
}

#[derive(Clone)]
pub struct Surveyor {
    pub username: String,
    pub password: String,
    pub org: String,
    pub key_id: String,
    pub public_key: String,
    pub seed: [u8; 32],
}

fn id_with_check(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!(
        "{first17}{}",
        char::from(b"10X98765432"[(sum % 11) as usize])
    )
}

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "潘",
];
const GIVEN: [&str; 12] = [
    "勇", "芳", "明", "丽", "强", "敏", "军", "霞", "海", "燕", "福", "兰",
];

pub fn name(h: usize, m: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[(h + m) % SURNAMES.len()],
        GIVEN[(h / 7 + m * 5) % GIVEN.len()]
    )
}

/// Write `org-units.csv`, `households.csv` and `surveyors.csv` (username, password, org,
/// public key: what `fieldsurvey user add` and `key add` need) into `dir`.
pub fn write(shape: &Shape, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut org = std::io::BufWriter::new(std::fs::File::create(dir.join("org-units.csv"))?);
    writeln!(org, "code,name,level,parent_code,lat,lon")?;
    writeln!(org, "520000000000,贵州省,province,,,")?;
    writeln!(
        org,
        "{PREFECTURE},黔南州,prefecture,520000000000,26.254,107.522"
    )?;
    for c in 0..shape.counties() {
        writeln!(
            org,
            "5227{:02}000000,县{:02},county,{PREFECTURE},,",
            c + 1,
            c + 1
        )?;
        for t in 0..TOWNSHIPS_PER_COUNTY {
            writeln!(
                org,
                "5227{:02}{:03}000,镇{:02}{:02},township,5227{:02}000000,,",
                c + 1,
                101 + t,
                c + 1,
                t + 1,
                c + 1
            )?;
        }
    }
    for v in 0..shape.villages {
        let code = shape.village_code(v);
        let (lat, lon) = shape.centroid(v);
        writeln!(
            org,
            "{code},村{v:04},village,{}000,{lat:.5},{lon:.5}",
            &code[..9]
        )?;
    }
    let mut hh = std::io::BufWriter::new(std::fs::File::create(dir.join("households.csv"))?);
    writeln!(hh, "household_code,head_name,head_id_number,member_count")?;
    for h in 0..shape.households {
        let (code, _) = shape.household(h);
        writeln!(
            hh,
            "{code},{},{},{}",
            name(h, 0),
            shape.id_number(h, 0),
            members(h)
        )?;
    }
    let mut su = std::io::BufWriter::new(std::fs::File::create(dir.join("surveyors.csv"))?);
    writeln!(su, "username,password,org_code,public_key")?;
    for c in 0..shape.counties() {
        let s = shape.surveyor(c);
        writeln!(
            su,
            "{},{},{},{}",
            s.username, s.password, s.org, s.public_key
        )?;
    }
    Ok(())
}

/// Household `h`'s member count (2 to 5).
pub fn members(h: usize) -> usize {
    2 + h * 7 % 4
}
