//! Abuse limits, per API process: sign-in attempts (per account and per client address, with
//! growing delays), uploads per account (a token bucket), uploads in flight at once, and how
//! long a client may take to send its request's headers (the pause allowed inside a body is
//! `UploadLimits::body_idle`). Each answers with a clear problem and, where
//! waiting helps, `Retry-After`.
//!
//! The counters live in the process's memory: with several API processes behind a balancer an
//! attacker gets each process's allowance (still a few guesses a minute per process, growing
//! delays after); nothing here needs the database, so a flood of bad sign-ins costs no query
//! and no password hash once a key is locked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, each configurable (see README, "Settings").
#[derive(Debug, Clone)]
pub struct AbuseLimits {
    /// Failed sign-ins an account may have before each further failure locks it for a growing
    /// time (1 s, 2 s, 4 s … up to `sign_in_max_delay`). Default 5.
    pub sign_in_free_failures: u32,
    /// The same, per client address (many accounts tried from one place). Default 50: behind
    /// a proxy whose forwarded address is not trusted (`TRUST_FORWARDED_FOR`), every client
    /// has the proxy's address, and everyone's typos count together.
    pub sign_in_free_failures_per_address: u32,
    /// The longest lock. Default 15 minutes.
    pub sign_in_max_delay: Duration,
    /// Uploads an account may make per minute, sustained; 0 turns the limit off. Default 60.
    pub uploads_per_minute: u32,
    /// Uploads an account may make at once after a quiet time (a phone that was offline and
    /// sends what it kept). Default 200.
    pub upload_burst: u32,
    /// Uploads one process reads at the same time; beyond it, 503 with `Retry-After`. Default 64.
    pub concurrent_uploads: usize,
    /// The time a client has to send a request's headers. Default 10 s.
    pub header_timeout: Duration,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        Self {
            sign_in_free_failures: 5,
            sign_in_free_failures_per_address: 50,
            sign_in_max_delay: Duration::from_secs(15 * 60),
            uploads_per_minute: 60,
            upload_burst: 200,
            concurrent_uploads: 64,
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// Entries kept at most per table; past it, expired ones are dropped first (memory is bounded
/// whatever a client sends).
const MAX_ENTRIES: usize = 100_000;
/// Failures are counted over this window: after this long without one, a key starts again.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// A sign-in attempt counted in advance: what each key was before it.
#[derive(Debug)]
pub struct Attempt {
    before: Vec<(String, Option<Failures>)>,
}

#[derive(Debug, Clone, Copy)]
pub struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The state behind the limits (one per process, shared by its HTTP workers).
pub struct Limiter {
    pub limits: AbuseLimits,
    failures: Mutex<HashMap<String, Failures>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    uploads: Arc<Semaphore>,
}

/// Whole seconds to wait, at least one.
pub fn seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Limiter {
    pub fn new(limits: AbuseLimits) -> Self {
        let uploads = Arc::new(Semaphore::new(limits.concurrent_uploads.max(1)));
        Self {
            limits,
            failures: Mutex::default(),
            buckets: Mutex::default(),
            uploads,
        }
    }

    fn keys(username: &str, address: Option<&str>) -> Vec<(String, u32)> {
        vec![(format!("user:{}", username.to_lowercase()), 0)]
            .into_iter()
            .chain(address.map(|a| (format!("addr:{a}"), 1)))
            .collect()
    }

    fn free(&self, kind: u32) -> u32 {
        match kind {
            0 => self.limits.sign_in_free_failures,
            _ => self.limits.sign_in_free_failures_per_address,
        }
    }

    /// Before checking a password: `Err(time left)` if the account or the address is locked.
    /// Otherwise the attempt is counted as a failure at once — so guesses sent in parallel are
    /// all counted before any is answered — and [`Limiter::sign_in_succeeded`] takes it back if
    /// the password was right. Past the free failures each counted one locks the key for a
    /// time that doubles (1 s, 2 s, 4 s … up to `sign_in_max_delay`); counts start again after
    /// 15 minutes without a failure.
    pub fn sign_in_attempt(
        &self,
        username: &str,
        address: Option<&str>,
    ) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let mut table = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let keys = Self::keys(username, address);
        if let Some(wait) = keys
            .iter()
            .filter_map(|(k, _)| table.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
        {
            return Err(wait);
        }
        if table.len() >= MAX_ENTRIES {
            table.retain(|_, f| now.duration_since(f.last) < WINDOW);
            if table.len() >= MAX_ENTRIES {
                // Under a flood of distinct names, keep the locked ones.
                table.retain(|_, f| f.locked_until.is_some_and(|u| u > now));
            }
        }
        let mut before = Vec::with_capacity(keys.len());
        for (key, kind) in keys {
            let entry = table.get(&key).copied();
            before.push((key.clone(), entry));
            let mut f = entry
                .filter(|f| now.duration_since(f.last) < WINDOW)
                .unwrap_or(Failures {
                    count: 0,
                    locked_until: None,
                    last: now,
                });
            f.count += 1;
            f.last = now;
            let free = self.free(kind);
            if f.count > free {
                let doublings = (f.count - free - 1).min(20);
                f.locked_until = Some(
                    now + Duration::from_secs(1u64 << doublings).min(self.limits.sign_in_max_delay),
                );
            }
            table.insert(key, f);
        }
        Ok(Attempt { before })
    }

    /// The password was right: the attempt is not a failure. The account's count starts
    /// again; the address is as it was before this attempt (one right password does not
    /// excuse guesses at other accounts from the same place).
    pub fn sign_in_succeeded(&self, attempt: Attempt) {
        let mut table = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for (key, before) in attempt.before {
            match before {
                Some(f) if key.starts_with("addr:") => {
                    table.insert(key, f);
                }
                _ => {
                    table.remove(&key);
                }
            }
        }
    }

    /// Whether a sign-in for `username` from `address` would be refused now, and for how long.
    pub fn sign_in_locked(&self, username: &str, address: Option<&str>) -> Option<Duration> {
        let now = Instant::now();
        let table = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(username, address)
            .iter()
            .filter_map(|(k, _)| table.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// One upload by `account`: `Err(wait)` when its bucket is empty.
    pub fn take_upload(&self, account: &str) -> Result<(), Duration> {
        if self.limits.uploads_per_minute == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let rate = f64::from(self.limits.uploads_per_minute) / 60.0;
        let burst = f64::from(self.limits.upload_burst.max(1));
        let mut table = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() >= MAX_ENTRIES {
            // A full bucket is the same as no entry.
            table.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = table.entry(account.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }

    /// A place among the uploads being read, held until the answer; `None` when all are taken.
    pub fn upload_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.uploads.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(AbuseLimits {
            sign_in_free_failures: 2,
            sign_in_free_failures_per_address: 4,
            uploads_per_minute: 60,
            upload_burst: 3,
            concurrent_uploads: 2,
            ..AbuseLimits::default()
        })
    }

    /// A wrong password: attempted, not taken back.
    fn fail(l: &Limiter, user: &str, addr: Option<&str>) -> Result<(), Duration> {
        l.sign_in_attempt(user, addr).map(drop)
    }

    #[test]
    fn sign_in_delays_grow_past_the_free_failures_and_a_success_clears_the_account() {
        let l = limiter();
        let a = Some("10.0.0.1");
        assert!(fail(&l, "wang", a).is_ok());
        assert!(fail(&l, "Wang", a).is_ok());
        assert_eq!(l.sign_in_locked("wang", None), None);
        assert!(fail(&l, "wang", a).is_ok(), "the third is answered…");
        assert!(
            l.sign_in_locked("WANG", None)
                .is_some_and(|w| w <= Duration::from_secs(1))
        );
        assert!(fail(&l, "wang", a).is_err(), "…and locks the account");
        // Another account from the same address is not locked (3 of its 4 free)…
        assert_eq!(l.sign_in_locked("li", Some("10.0.0.2")), None);
        assert!(fail(&l, "li", a).is_ok());
        // …until the address has used its own free failures.
        assert!(fail(&l, "zhao", a).is_ok());
        assert!(l.sign_in_locked("zhou", a).is_some());
        // A right password clears the account's count, and leaves the address as it was.
        let l = limiter();
        for _ in 0..2 {
            assert!(fail(&l, "wang", a).is_ok());
        }
        let right = l.sign_in_attempt("wang", a).unwrap();
        l.sign_in_succeeded(right);
        assert!(fail(&l, "wang", a).is_ok(), "counting starts again");
        assert!(fail(&l, "wang", a).is_ok());
        assert!(l.sign_in_locked("wang", None).is_none());
        assert!(fail(&l, "li", a).is_ok(), "the address's fifth failure…");
        assert!(l.sign_in_locked("li", a).is_some(), "…locks it");
    }

    #[test]
    fn parallel_guesses_are_counted_before_any_is_answered() {
        let l = limiter();
        // Three attempts in flight at once (none answered yet): the third already locks.
        let _a = l.sign_in_attempt("wang", None).unwrap();
        let _b = l.sign_in_attempt("wang", None).unwrap();
        let _c = l.sign_in_attempt("wang", None).unwrap();
        assert!(l.sign_in_attempt("wang", None).is_err());
    }

    #[test]
    fn the_longest_lock_is_capped() {
        let l = Limiter::new(AbuseLimits {
            sign_in_free_failures: 0,
            sign_in_max_delay: Duration::from_secs(60),
            ..AbuseLimits::default()
        });
        let mut seen = Duration::ZERO;
        for _ in 0..40 {
            // Past the lock each time, as if the caller waited it out.
            let mut table = l.failures.lock().unwrap();
            for f in table.values_mut() {
                f.locked_until = None;
            }
            drop(table);
            let _ = l.sign_in_attempt("wang", None).unwrap();
            seen = seen.max(l.sign_in_locked("wang", None).unwrap());
        }
        assert!(seen <= Duration::from_secs(60) && seen > Duration::from_secs(59));
    }

    #[test]
    fn uploads_come_from_a_bucket_per_account() {
        let l = limiter();
        for _ in 0..3 {
            assert!(l.take_upload("a").is_ok());
        }
        let wait = l.take_upload("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO);
        assert!(l.take_upload("b").is_ok(), "another account has its own");
        assert_eq!(seconds(wait), 1);
    }

    #[test]
    fn uploads_in_flight_are_capped_and_a_slot_comes_back() {
        let l = limiter();
        let a = l.upload_slot().unwrap();
        let _b = l.upload_slot().unwrap();
        assert!(l.upload_slot().is_none());
        drop(a);
        assert!(l.upload_slot().is_some());
    }

    #[test]
    fn no_upload_limit_when_turned_off() {
        let l = Limiter::new(AbuseLimits {
            uploads_per_minute: 0,
            upload_burst: 1,
            ..AbuseLimits::default()
        });
        for _ in 0..1000 {
            assert!(l.take_upload("a").is_ok());
        }
    }
}
