//! Identifiers parsed once at the edge into types that cannot be invalid.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not a UUID")]
    Uuid,
    #[error("not 12 digits, '-', 4 digits")]
    HouseholdCode,
    #[error("not a 12-digit org code")]
    OrgCode,
    #[error("not 64 lower-case hex digits")]
    Digest,
    #[error("an ID number has 17 digits and a check character (0-9 or X)")]
    IdShape,
    #[error("the check character is wrong")]
    IdCheck,
    #[error("the birth date is impossible")]
    IdBirthDate,
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The app-chosen id of a submission (the idempotency key of an upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubmissionId(Uuid);

impl SubmissionId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Uuid::parse_str(s)
            .map(SubmissionId)
            .map_err(|_| IdError::Uuid)
    }
    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for SubmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl Serialize for SubmissionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SubmissionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SubmissionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// On bytes, not `&str` slices: slicing a string at a byte that is not a character boundary
/// panics, and these inputs are untrusted (a fuzzer found an ID number of 18 bytes with a
/// Chinese character across byte 17).
fn all_digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

/// 一户一码: the village's 12-digit statistical code, '-', a 4-digit sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HouseholdCode(String);

impl HouseholdCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 17
            && s.as_bytes()[12] == b'-'
            && all_digits(&s.as_bytes()[..12])
            && all_digits(&s.as_bytes()[13..]);
        if ok {
            Ok(HouseholdCode(s.to_owned()))
        } else {
            Err(IdError::HouseholdCode)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn village_code(&self) -> OrgCode {
        OrgCode(self.0[..12].to_owned())
    }
    /// The first six digits: the county of the village.
    pub fn county_prefix(&self) -> &str {
        &self.0[..6]
    }
}
string_serde!(HouseholdCode);

/// A 12-digit statistical division code of an org unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgCode(String);

impl OrgCode {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.len() == 12 && all_digits(s.as_bytes()) {
            Ok(OrgCode(s.to_owned()))
        } else {
            Err(IdError::OrgCode)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_serde!(OrgCode);

/// A SHA-256 in lower-case hex: the content digest of a survey, or a photo's hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentDigest(String);

impl ContentDigest {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(ContentDigest(s.to_owned()))
        } else {
            Err(IdError::Digest)
        }
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentDigest(hex::encode(bytes))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_serde!(ContentDigest);

/// An 18-character resident ID number (GB 11643) whose check character (ISO 7064 MOD 11-2)
/// and birth date have been verified. Its `Debug` shows only the masked form: personal data
/// must never reach a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

impl IdNumber {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let b = s.as_bytes();
        if b.len() != 18 || !all_digits(&b[..17]) {
            return Err(IdError::IdShape);
        }
        let last = b[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == b'X') {
            return Err(IdError::IdShape);
        }
        let sum: u32 = b[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        if CHECK[(sum % 11) as usize] != last {
            return Err(IdError::IdCheck);
        }
        let (y, m, d) = (
            s[6..10].parse::<i32>(),
            s[10..12].parse::<u32>(),
            s[12..14].parse::<u32>(),
        );
        match (y, m, d) {
            (Ok(y), Ok(m), Ok(d)) if y >= 1900 && NaiveDate::from_ymd_opt(y, m, d).is_some() => {}
            _ => return Err(IdError::IdBirthDate),
        }
        let mut v = s[..17].to_owned();
        v.push(char::from(last));
        Ok(IdNumber(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        let (y, m, d) = (&self.0[6..10], &self.0[10..12], &self.0[12..14]);
        y.parse()
            .ok()
            .zip(m.parse().ok())
            .zip(d.parse().ok())
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
            .unwrap_or(NaiveDate::MIN)
    }

    pub fn region(&self) -> &str {
        &self.0[..6]
    }

    /// First 6 and last 4 characters shown.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn household_codes_have_one_shape() {
        let c = HouseholdCode::parse("522732101201-0001").map(|c| c.village_code());
        assert_eq!(c.as_ref().map(OrgCode::as_str), Ok("522732101201"));
        for bad in [
            "522732101201_0001",
            "52273210120-00001",
            "522732101201-001",
            "52273210120a-0001",
            "",
        ] {
            assert!(HouseholdCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_with_characters_across_a_slice_boundary_are_refused_not_a_panic() {
        // Found by the survey_checks fuzz target: 18 bytes, a three-byte character at 15–17,
        // so byte 17 (where the check character should start) is inside it.
        assert_eq!("522732198701012李".len(), 18);
        assert_eq!(IdNumber::parse("522732198701012李"), Err(IdError::IdShape));
        assert_eq!(IdNumber::parse("52273219870101李0"), Err(IdError::IdShape));
        assert!(HouseholdCode::parse("52273210120李-00").is_err());
        assert!(OrgCode::parse("52273210李0").is_err());
    }

    #[test]
    fn id_numbers_check_character_and_birth_date() {
        let ok = IdNumber::parse("52273219770908717x").map(|i| i.as_str().to_owned());
        assert_eq!(ok.as_deref(), Ok("52273219770908717X"));
        assert_eq!(
            IdNumber::parse("522732198711145258").err(),
            Some(IdError::IdCheck)
        );
        assert_eq!(
            IdNumber::parse("52273219871114525").err(),
            Some(IdError::IdShape)
        );
        // 2023-02-29 does not exist; the check character is made right so only the date is wrong.
        let body = "52273220230229001";
        let sum: u32 = body
            .bytes()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let bad_date = format!("{body}{}", char::from(CHECK[(sum % 11) as usize]));
        assert_eq!(IdNumber::parse(&bad_date).err(), Some(IdError::IdBirthDate));
    }

    #[test]
    fn every_registry_id_number_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/households.csv");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let ids: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(2))
            .collect();
        assert_eq!(ids.len(), 120);
        for id in ids {
            assert!(
                IdNumber::parse(id).is_ok(),
                "line with masked id {}",
                &id[..6]
            );
        }
    }

    #[test]
    fn debug_never_shows_the_number() {
        let id = IdNumber::parse("522732198711145257")
            .map(|i| format!("{i:?}"))
            .unwrap_or_default();
        assert_eq!(id, "IdNumber(522732********5257)");
    }
}
