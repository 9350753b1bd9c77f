//! Review deadlines in working days (Monday to Friday).

use chrono::{Datelike, NaiveDateTime, TimeDelta};

/// `start` plus `days` working days (Saturdays and Sundays skipped).
pub fn add_working_days(start: NaiveDateTime, days: u32) -> NaiveDateTime {
    let mut t = start;
    let mut left = days;
    while left > 0 {
        t += TimeDelta::days(1);
        if t.weekday().number_from_monday() <= 5 {
            left -= 1;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_count_working_days_only() {
        let at = |d: &str| {
            NaiveDateTime::parse_from_str(&format!("{d} 10:00"), "%Y-%m-%d %H:%M")
                .unwrap_or_default()
        };
        // Tuesday 2026-11-24 + 5 working days = Tuesday 2026-12-01.
        assert_eq!(add_working_days(at("2026-11-24"), 5), at("2026-12-01"));
        // Friday + 1 = Monday; Saturday + 1 = Monday.
        assert_eq!(add_working_days(at("2026-11-27"), 1), at("2026-11-30"));
        assert_eq!(add_working_days(at("2026-11-28"), 1), at("2026-11-30"));
        assert_eq!(add_working_days(at("2026-11-28"), 0), at("2026-11-28"));
    }
}
