//! Monthly bulletins (通报): what one says, how its units are ranked, and its digest.
//!
//! A bulletin is a dated snapshot of a unit and its child units as of the end of a month in
//! the office's calendar; it is stored as its RFC 8785 bytes, and the SHA-256 of those bytes
//! is what the ledger entry `bulletin_issued` carries (docs/bulletins.md). Everything here is
//! plain values: the figures are counted by the persistence layer, the month's bounds by the
//! office's zone.

use std::cmp::Ordering;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The identifier of a bulletin's format, inside every bulletin.
pub const FORMAT: &str = "fieldsurvey-bulletin/1";

/// The ranking rule, as every bulletin states it.
pub const RANKING_RULE: &str = "sibling units ranked by coverage (verified / registry households) descending, \
     then closure rate (confirmed / raised; a unit without clues counts as fully closed) \
     descending, then meeting-standard rate (meeting / verified) descending; units equal on all \
     three share a rank (1, 2, 2, 4); a unit without registry households ranks last";

/// A month of the office's calendar, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u32,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month of the form YYYY-MM (for example 2026-11)")]
pub struct PeriodError(String);

impl Period {
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(text.chars().take(20).collect());
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(2000..=9998).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Period { year, month })
    }

    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn previous(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The month's first day.
    pub fn first_day(self) -> NaiveDate {
        // Parsing keeps the year in range and the month in 1..=12: the first exists.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A rate stated with its parts; without a denominator it is no rate at all (never 0%).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: i64,
    pub den: i64,
}

impl Ratio {
    pub fn value(self) -> Option<f64> {
        (self.den > 0).then(|| self.num as f64 / self.den as f64)
    }

    /// Compare two rates exactly (no floating point); a rate without a denominator is below
    /// every rate.
    fn cmp_rate(self, other: Ratio) -> Ordering {
        match (self.den > 0, other.den > 0) {
            (false, false) => Ordering::Equal,
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
            (true, true) => (i128::from(self.num) * i128::from(other.den))
                .cmp(&(i128::from(other.num) * i128::from(self.den))),
        }
    }
}

/// One unit's figures as of the period's end (docs/bulletins.md says what each counts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Registry households (底册) imported before the end.
    pub households: i64,
    /// Of those, households with a version standing at the end that was signed off or
    /// approved (已核实).
    pub verified: i64,
    /// Of those, households whose standing version meets the standard (达标).
    pub meets_standard: i64,
    /// Households first verified during the month (counted by their versions' arrival).
    pub verified_in_period: i64,
    /// Clues (问题线索) raised before the end.
    pub clues_raised: i64,
    /// Of those, raised during the month.
    pub clues_raised_in_period: i64,
    /// Clues still open at the end (neither closed nor confirmed).
    pub clues_open: i64,
    /// Of the open ones, those past their deadline at the end; `None` where clues carry no
    /// deadline.
    pub clues_overdue: Option<i64>,
    /// Clues closed and awaiting confirmation at the end (已整改待确认).
    pub clues_closed: i64,
    /// Clues confirmed closed (销号) before the end.
    pub clues_confirmed: i64,
}

impl Figures {
    /// 覆盖率: verified / registry households.
    pub fn coverage(&self) -> Ratio {
        Ratio {
            num: self.verified,
            den: self.households,
        }
    }

    /// 达标率: meeting the standard / verified.
    pub fn meets_rate(&self) -> Ratio {
        Ratio {
            num: self.meets_standard,
            den: self.verified,
        }
    }

    /// 整改销号率: confirmed / raised (as of the end).
    pub fn closure_rate(&self) -> Ratio {
        Ratio {
            num: self.clues_confirmed,
            den: self.clues_raised,
        }
    }

    pub fn add(&mut self, o: &Figures) {
        self.households += o.households;
        self.verified += o.verified;
        self.meets_standard += o.meets_standard;
        self.verified_in_period += o.verified_in_period;
        self.clues_raised += o.clues_raised;
        self.clues_raised_in_period += o.clues_raised_in_period;
        self.clues_open += o.clues_open;
        self.clues_overdue = match (self.clues_overdue, o.clues_overdue) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.clues_closed += o.clues_closed;
        self.clues_confirmed += o.clues_confirmed;
    }
}

/// A unit of the bulletin: the unit itself (`total`) or one of its children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitLine {
    pub code: String,
    pub name: String,
    pub level: String,
    pub figures: Figures,
    /// Rank among the bulletin's sibling units (children only), by [`RANKING_RULE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// The same unit in the previous month's stored bulletin, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

/// A unit's figures and rank in the previous month's bulletin: the month-over-month change is
/// the difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub figures: Figures,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
}

/// One day of the trend: households verified and clues closed or confirmed that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendDay {
    pub date: String,
    pub verified: i64,
    pub clues_closed: i64,
}

/// The previous month's bulletin the change is measured against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousBulletin {
    pub id: String,
    pub period: String,
    pub digest: String,
}

/// A bulletin, exactly as stored (its RFC 8785 bytes are what the digest covers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bulletin {
    pub format: String,
    pub id: String,
    pub period: String,
    /// The office's zone whose calendar the month is in (IANA name).
    pub zone: String,
    /// The month's bounds as UTC instants (RFC 3339): `[period_start, as_of)`.
    pub period_start: String,
    pub as_of: String,
    pub issued_at: String,
    pub issued_by: String,
    pub unit: UnitLine,
    pub units: Vec<UnitLine>,
    pub ranking_rule: String,
    /// The unit's last 30 days up to the end.
    pub trend: Vec<TrendDay>,
    /// `None` when no bulletin of the previous month was issued for this unit.
    pub previous_bulletin: Option<PreviousBulletin>,
    /// What the figures could not take as of the end, in words (docs/bulletins.md).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("a bulletin cannot be serialised: {0}")]
pub struct BulletinError(String);

impl Bulletin {
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, BulletinError> {
        serde_json_canonicalizer::to_vec(self).map_err(|e| BulletinError(e.to_string()))
    }
}

/// SHA-256 of `bytes`, lower-case hex: a bulletin's digest.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `text` is a bulletin's canonical form: it parses as a bulletin and serialises to
/// exactly the same bytes.
pub fn is_canonical(text: &str) -> bool {
    serde_json::from_str::<Bulletin>(text)
        .ok()
        .and_then(|b| b.canonical_bytes().ok())
        .is_some_and(|bytes| bytes == text.as_bytes())
}

fn ranking_key(a: &Figures, b: &Figures) -> Ordering {
    // A unit without clues has nothing left to close: as fully closed (the stats API's rule).
    let closure = |f: &Figures| {
        if f.clues_raised > 0 {
            f.closure_rate()
        } else {
            Ratio { num: 1, den: 1 }
        }
    };
    b.coverage()
        .cmp_rate(a.coverage())
        .then_with(|| closure(b).cmp_rate(closure(a)))
        .then_with(|| b.meets_rate().cmp_rate(a.meets_rate()))
}

/// Rank `units` (siblings) by [`RANKING_RULE`]: sorts them best first (ties by code) and sets
/// each one's `rank`.
pub fn rank(units: &mut [UnitLine]) {
    units.sort_by(|a, b| ranking_key(&a.figures, &b.figures).then_with(|| a.code.cmp(&b.code)));
    let mut current = 0u32;
    for i in 0..units.len() {
        let shares = i > 0 && ranking_key(&units[i - 1].figures, &units[i].figures).is_eq();
        if !shares {
            current = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        units[i].rank = Some(current);
    }
}

/// Attach to each unit of `now` the same unit of the previous month's bulletin.
pub fn compare(unit: &mut UnitLine, units: &mut [UnitLine], previous: &Bulletin) {
    if previous.unit.code == unit.code {
        unit.previous = Some(Previous {
            figures: previous.unit.figures.clone(),
            rank: None,
        });
    }
    for u in units.iter_mut() {
        u.previous = previous
            .units
            .iter()
            .find(|p| p.code == u.code)
            .map(|p| Previous {
                figures: p.figures.clone(),
                rank: p.rank,
            });
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn line(code: &str, households: i64, verified: i64, raised: i64, confirmed: i64) -> UnitLine {
        UnitLine {
            code: code.to_owned(),
            name: code.to_owned(),
            level: "township".to_owned(),
            figures: Figures {
                households,
                verified,
                meets_standard: verified,
                clues_raised: raised,
                clues_confirmed: confirmed,
                ..Figures::default()
            },
            rank: None,
            previous: None,
        }
    }

    #[test]
    fn a_period_is_a_month_and_knows_its_neighbours() {
        let p = Period::parse("2026-01").expect("a month");
        assert_eq!(p.previous().to_string(), "2025-12");
        assert_eq!(p.next().to_string(), "2026-02");
        assert_eq!(
            Period::parse("2026-12")
                .expect("a month")
                .next()
                .to_string(),
            "2027-01"
        );
        assert_eq!(
            p.first_day(),
            NaiveDate::from_ymd_opt(2026, 1, 1).expect("a day")
        );
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "",
            "２０２６-01",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn siblings_rank_by_coverage_then_closure_and_equals_share_a_rank() {
        let mut units = vec![
            line("c", 10, 5, 2, 1),
            line("a", 10, 5, 2, 1),
            line("b", 10, 8, 0, 0),
            line("d", 10, 5, 4, 4),
            line("e", 0, 0, 0, 0),
        ];
        rank(&mut units);
        let order: Vec<(&str, Option<u32>)> =
            units.iter().map(|u| (u.code.as_str(), u.rank)).collect();
        assert_eq!(
            order,
            [
                ("b", Some(1)),
                ("d", Some(2)),
                ("a", Some(3)),
                ("c", Some(3)),
                ("e", Some(5))
            ]
        );
    }

    #[test]
    fn a_rate_without_a_denominator_is_none() {
        assert_eq!(Ratio { num: 0, den: 0 }.value(), None);
        assert_eq!(Ratio { num: 1, den: 4 }.value(), Some(0.25));
    }
}
