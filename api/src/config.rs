//! The API's typed settings, built once by the CLI and passed in.

use std::time::Duration;

use crate::auth::jwt::JwtKeys;

#[derive(Debug, Clone)]
pub struct UploadLimits {
    pub survey_bytes: usize,
    pub photos: usize,
    pub photo_bytes: u64,
    pub request_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            survey_bytes: 256 * 1024,
            photos: 12,
            photo_bytes: 15 * 1024 * 1024,
            request_bytes: 100 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
pub struct ApiConfig {
    pub jwt: JwtKeys,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub limits: UploadLimits,
    /// Working days (Monday to Friday) a level has to decide a signed-off version.
    pub review_deadline_days: u32,
}

impl ApiConfig {
    pub fn new(jwt: JwtKeys) -> Self {
        Self {
            jwt,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            limits: UploadLimits::default(),
            review_deadline_days: 5,
        }
    }
}

/// `start` plus `days` working days (Saturdays and Sundays skipped).
pub fn add_working_days(start: chrono::NaiveDateTime, days: u32) -> chrono::NaiveDateTime {
    use chrono::Datelike;
    let mut t = start;
    let mut left = days;
    while left > 0 {
        t += chrono::TimeDelta::days(1);
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
            chrono::NaiveDateTime::parse_from_str(&format!("{d} 10:00"), "%Y-%m-%d %H:%M")
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
