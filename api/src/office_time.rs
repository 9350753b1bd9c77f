//! Times as the office reads them. Everything is stored and sent in UTC (RFC 3339 with `Z`);
//! every time a person reads on a page is shown in the office's zone (`OFFICE_TZ`, default
//! Asia/Shanghai) with the zone named beside it, so 20:14Z reads as the next morning's 04:14
//! and no date or deadline is a day off.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone pages show times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeZone(Tz);

impl Default for OfficeZone {
    fn default() -> Self {
        OfficeZone(Tz::Asia__Shanghai)
    }
}

/// A zone name that is not in the IANA time zone database.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IANA time zone name (for example Asia/Shanghai)")]
pub struct UnknownZone(String);

impl FromStr for OfficeZone {
    type Err = UnknownZone;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<Tz>()
            .map(OfficeZone)
            .map_err(|_| UnknownZone(s.to_owned()))
    }
}

impl OfficeZone {
    /// The zone itself (for code that formats times outside this module: exports).
    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl fmt::Display for OfficeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl OfficeZone {
    /// The zone's name as a reader sees it beside a time: 北京时间 for China's zones (UTC+8
    /// all year), otherwise the IANA name and the offset in force at `t`.
    fn label(&self, t: &DateTime<Tz>) -> String {
        match self.0 {
            Tz::Asia__Shanghai | Tz::Asia__Chongqing | Tz::Asia__Harbin | Tz::PRC => {
                "北京时间".to_owned()
            }
            tz => format!("{} UTC{}", tz.name(), t.format("%:z")),
        }
    }

    fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.0)
    }

    /// `2026-11-30 04:14（北京时间）`.
    pub fn minute(&self, t: DateTime<Utc>) -> String {
        let l = self.local(t);
        format!("{}（{}）", l.format("%Y-%m-%d %H:%M"), self.label(&l))
    }

    /// The office's calendar date of `t`: `2026-11-30`.
    pub fn date(&self, t: DateTime<Utc>) -> String {
        self.local(t).format("%Y-%m-%d").to_string()
    }

    /// `（北京时间）`: the heading of a table column whose cells ([`OfficeZone::cell_minute`],
    /// [`OfficeZone::cell_second`], [`OfficeZone::date_text`]) show times without the zone.
    pub fn heading(&self) -> String {
        format!("（{}）", self.label(&self.local(Utc::now())))
    }

    /// A stored UTC time (a `TIMESTAMP` column, naive UTC), with the zone named.
    pub fn minute_of(&self, t: NaiveDateTime) -> String {
        self.minute(Utc.from_utc_datetime(&t))
    }

    /// A time as the API sends it (RFC 3339, any offset), to the minute, with the zone named;
    /// a text that is not RFC 3339 is shown as it is rather than hidden.
    pub fn minute_text(&self, rfc3339: &str) -> String {
        parse(rfc3339).map_or_else(|| rfc3339.to_owned(), |t| self.minute(t))
    }

    /// For a table cell under [`OfficeZone::heading`]: `2026-11-30 04:14`.
    pub fn cell_minute(&self, rfc3339: &str) -> String {
        self.cell(rfc3339, "%Y-%m-%d %H:%M")
    }

    /// For a table cell under [`OfficeZone::heading`]: `2026-11-30 04:14:09` (ledger entries).
    pub fn cell_second(&self, rfc3339: &str) -> String {
        self.cell(rfc3339, "%Y-%m-%d %H:%M:%S")
    }

    /// The office's calendar date of an RFC 3339 text: `2026-11-30`.
    pub fn date_text(&self, rfc3339: &str) -> String {
        self.cell(rfc3339, "%Y-%m-%d")
    }

    /// The office's last `n` calendar days, the day of `now` the last: each day's date
    /// (`2026-11-30`), and the `n + 1` UTC instants that bound them (naive UTC, as stored), so
    /// that day `i` is `[bounds[i], bounds[i + 1])`.
    pub fn last_days(&self, n: u32, now: DateTime<Utc>) -> (Vec<String>, Vec<NaiveDateTime>) {
        let today = self.local(now).date_naive();
        let first = today
            .checked_sub_days(Days::new(u64::from(n.saturating_sub(1))))
            .unwrap_or(today);
        // The first day's date, and each next one up to the day after today (the last bound).
        let starts: Vec<NaiveDate> = (0..=n)
            .filter_map(|i| first.checked_add_days(Days::new(u64::from(i))))
            .collect();
        let dates = starts
            .iter()
            .take(n as usize)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect();
        let bounds = starts.iter().map(|d| self.day_start(*d)).collect();
        (dates, bounds)
    }

    /// The office's calendar date of `t`.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// When the office's day `d` starts, in naive UTC (a day whose midnight a clock change
    /// skips starts at the first instant it has).
    pub fn day_start(&self, d: NaiveDate) -> NaiveDateTime {
        let midnight = d.and_time(NaiveTime::MIN);
        (0..=3)
            .find_map(|h| {
                self.0
                    .from_local_datetime(&(midnight + TimeDelta::hours(h)))
                    .earliest()
            })
            .map_or(midnight, |t| t.naive_utc())
    }

    fn cell(&self, rfc3339: &str, format: &str) -> String {
        parse(rfc3339).map_or_else(
            || rfc3339.to_owned(),
            |t| self.local(t).format(format).to_string(),
        )
    }
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        parse(s).expect("a test time")
    }

    #[test]
    fn an_evening_in_utc_is_the_next_morning_in_beijing() {
        let z = OfficeZone::default();
        assert_eq!(
            z.minute(at("2026-11-29T20:14:00Z")),
            "2026-11-30 04:14（北京时间）"
        );
        assert_eq!(z.date(at("2026-11-29T20:14:00Z")), "2026-11-30");
        assert_eq!(z.date(at("2026-11-29T15:59:59Z")), "2026-11-29");
        assert_eq!(z.date(at("2026-11-29T16:00:00Z")), "2026-11-30");
        assert_eq!(
            z.cell_second("2026-12-31T16:00:00.250Z"),
            "2027-01-01 00:00:00"
        );
        assert_eq!(z.date_text("2026-12-31T16:00:00Z"), "2027-01-01");
        assert_eq!(z.heading(), "（北京时间）");
    }

    #[test]
    fn a_time_sent_with_an_offset_is_the_same_instant() {
        let z = OfficeZone::default();
        assert_eq!(
            z.minute_text("2026-11-30T04:14:00+08:00"),
            z.minute_text("2026-11-29T20:14:00Z")
        );
    }

    #[test]
    fn another_zone_is_named_with_its_offset() {
        let z: OfficeZone = "Asia/Urumqi".parse().expect("a zone");
        assert_eq!(
            z.minute(at("2026-11-29T20:14:00Z")),
            "2026-11-30 02:14（Asia/Urumqi UTC+06:00）"
        );
        let b: OfficeZone = "Europe/Berlin".parse().expect("a zone");
        assert_eq!(
            b.minute(at("2026-07-01T12:00:00Z")),
            "2026-07-01 14:00（Europe/Berlin UTC+02:00）"
        );
    }

    #[test]
    fn the_last_days_are_the_office_s_calendar_days_in_utc() {
        let z = OfficeZone::default();
        // 20:14Z on the 29th is already the 30th in Beijing: the last day is the 30th, which
        // began at 16:00Z on the 29th.
        let (dates, bounds) = z.last_days(3, at("2026-11-29T20:14:00Z"));
        assert_eq!(dates, ["2026-11-28", "2026-11-29", "2026-11-30"]);
        let shown: Vec<String> = bounds
            .iter()
            .map(|b| b.format("%Y-%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "2026-11-27 16:00",
                "2026-11-28 16:00",
                "2026-11-29 16:00",
                "2026-11-30 16:00"
            ]
        );
        // A day of a clock change is as long as it is (Berlin's autumn day: 25 hours).
        let b: OfficeZone = "Europe/Berlin".parse().expect("a zone");
        let (_, bounds) = b.last_days(1, at("2026-10-25T12:00:00Z"));
        assert_eq!(bounds[1] - bounds[0], chrono::TimeDelta::hours(25));
    }

    #[test]
    fn an_unknown_zone_is_refused_and_a_bad_text_shown_as_it_is() {
        assert!("Beijing".parse::<OfficeZone>().is_err());
        assert_eq!(OfficeZone::default().minute_text("yesterday"), "yesterday");
    }
}
