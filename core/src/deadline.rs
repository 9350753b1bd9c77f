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

/// `start` minus `days` working days.
pub fn subtract_working_days(start: NaiveDateTime, days: u32) -> NaiveDateTime {
    let mut t = start;
    let mut left = days;
    while left > 0 {
        t -= TimeDelta::days(1);
        if t.weekday().number_from_monday() <= 5 {
            left -= 1;
        }
    }
    t
}

/// Escalation (逐级上报): a version undecided at its review level past its deadline may be
/// decided by the level directly above; still undecided this many working days later, by the
/// level above that (a township's record reaches the prefecture).
pub const ESCALATION_WORKING_DAYS: u32 = 5;

/// May a reviewer `levels_up` levels above the deciding level decide a version due at `due`,
/// at `now`? The deciding level itself always (0); one above once the deadline has passed; two
/// above [`ESCALATION_WORKING_DAYS`] working days after that. The queue asks the same question
/// in SQL with [`escalation_cutoff`].
pub fn may_escalate_to(levels_up: usize, due: NaiveDateTime, now: NaiveDateTime) -> bool {
    match escalation_cutoff(levels_up, now) {
        None => levels_up == 0,
        Some(cutoff) => due < cutoff,
    }
}

/// The latest deadline a version may have for a reviewer `levels_up` levels above its review
/// level to decide it at `now` (`None` for 0 — always — and for more than two levels).
pub fn escalation_cutoff(levels_up: usize, now: NaiveDateTime) -> Option<NaiveDateTime> {
    match levels_up {
        1 => Some(now),
        2 => Some(subtract_working_days(
            last_working_moment(now),
            ESCALATION_WORKING_DAYS,
        )),
        _ => None,
    }
}

/// `t` on a working day; on a Saturday or Sunday, the last moment of the Friday before (so
/// that counting working days back is the inverse of [`add_working_days`], which always lands
/// on a working day).
fn last_working_moment(t: NaiveDateTime) -> NaiveDateTime {
    let back = match t.weekday().number_from_monday() {
        6 => 1,
        7 => 2,
        _ => return t,
    };
    let friday = t.date() - TimeDelta::days(back);
    friday.and_hms_micro_opt(23, 59, 59, 999_999).unwrap_or(t)
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
        assert_eq!(subtract_working_days(at("2026-12-01"), 5), at("2026-11-24"));
        assert_eq!(subtract_working_days(at("2026-11-30"), 1), at("2026-11-27"));
    }

    #[test]
    fn a_late_record_escalates_one_level_at_its_deadline_and_two_a_week_later() {
        let at = |d: &str| {
            NaiveDateTime::parse_from_str(&format!("{d} 10:00"), "%Y-%m-%d %H:%M")
                .unwrap_or_default()
        };
        let due = at("2026-11-24");
        assert!(may_escalate_to(0, due, at("2026-11-01")));
        assert!(!may_escalate_to(1, due, at("2026-11-23")));
        assert!(may_escalate_to(1, due, at("2026-11-25")));
        assert!(
            !may_escalate_to(2, due, at("2026-11-30")),
            "4 working days late"
        );
        assert!(
            may_escalate_to(2, due, at("2026-12-02")),
            "6 working days late"
        );
        assert!(
            !may_escalate_to(3, due, at("2027-06-01")),
            "no further than two levels"
        );

        // Due Monday 10:00: the second level's turn is the Monday after, 10:00 — not the
        // weekend before it.
        let due = at("2026-11-23");
        let at_time = |d: &str, hm: &str| {
            NaiveDateTime::parse_from_str(&format!("{d} {hm}"), "%Y-%m-%d %H:%M")
                .unwrap_or_default()
        };
        assert_eq!(
            add_working_days(due, ESCALATION_WORKING_DAYS),
            at("2026-11-30")
        );
        assert!(
            !may_escalate_to(2, due, at_time("2026-11-28", "10:01")),
            "Saturday"
        );
        assert!(
            !may_escalate_to(2, due, at_time("2026-11-29", "23:00")),
            "Sunday"
        );
        assert!(!may_escalate_to(2, due, at_time("2026-11-30", "09:59")));
        assert!(may_escalate_to(2, due, at_time("2026-11-30", "10:01")));
    }
}
