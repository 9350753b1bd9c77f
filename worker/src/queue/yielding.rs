//! Yielding to a burst of uploads, on a host the worker shares with the API.
//!
//! A surveyor on a mountain road waits for the 202; nobody waits for the sign-off of a survey
//! uploaded a minute ago. When the API and the workers share the same cores, every sign-off
//! during an evening burst takes CPU the uploads need: niceness does not stop it, because
//! the worker's database and broker work runs at their priority, not the worker's
//! (docs/performance.md, tenth sitting). So a worker can stand aside while the queue grows fast:
//! once a second it reads the ready messages (`Publisher::waiting`), and while they grew by at
//! least `at_growth` a second it takes no new delivery; those it holds wait, those in flight
//! finish. It takes deliveries again as soon as the growth falls below that, or after `max` of
//! standing aside without a pause, and then works through the rest of the burst: the deferral
//! is bounded, and the queue is drained after the burst either way.
//!
//! Off by default (`WORKER_YIELD_AT=0`): on hosts of their own, workers should work hardest
//! precisely when the queue grows.

use std::time::{Duration, Instant};

/// When a worker stands aside: the ready messages' growth per second, and for how long at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YieldPolicy {
    pub at_growth: u64,
    pub max: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Working,
    Yielding {
        since: Instant,
    },
    /// Stood aside for `max` with the queue still growing: works until the growth falls.
    WorkingThrough,
}

/// The decision, fed one reading of the ready messages at a time.
#[derive(Debug)]
pub struct Yielder {
    policy: YieldPolicy,
    last: Option<(Instant, u64)>,
    state: State,
}

impl Yielder {
    pub fn new(policy: YieldPolicy) -> Self {
        Yielder {
            policy,
            last: None,
            state: State::Working,
        }
    }

    /// Whether to stand aside after reading `ready` messages at `now`; `None` when the broker
    /// could not be asked, which never makes a worker stand aside.
    pub fn observe(&mut self, now: Instant, ready: Option<u64>) -> bool {
        let Some(ready) = ready else {
            self.last = None;
            self.state = State::Working;
            return false;
        };
        let Some((then, before)) = self.last.replace((now, ready)) else {
            return self.yielding();
        };
        let seconds = now.saturating_duration_since(then).as_secs_f64();
        if seconds <= 0.0 {
            return self.yielding();
        }
        let growth = (ready as f64 - before as f64) / seconds;
        let burst = growth >= self.policy.at_growth as f64;
        self.state = match (self.state, burst) {
            (_, false) => State::Working,
            (State::Working, true) => State::Yielding { since: now },
            (State::Yielding { since }, true)
                if now.saturating_duration_since(since) >= self.policy.max =>
            {
                State::WorkingThrough
            }
            (state, true) => state,
        };
        self.yielding()
    }

    pub fn yielding(&self) -> bool {
        matches!(self.state, State::Yielding { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yielder() -> (Yielder, Instant) {
        let policy = YieldPolicy {
            at_growth: 100,
            max: Duration::from_secs(5),
        };
        (Yielder::new(policy), Instant::now())
    }

    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn stands_aside_while_the_queue_grows_fast_and_not_otherwise() {
        let (mut y, t0) = yielder();
        assert!(!y.observe(at(t0, 0), Some(0)), "one reading is no growth");
        assert!(!y.observe(at(t0, 1), Some(60)), "60/s is under 100/s");
        assert!(y.observe(at(t0, 2), Some(400)), "340/s is a burst");
        assert!(y.observe(at(t0, 3), Some(800)));
        assert!(
            !y.observe(at(t0, 4), Some(820)),
            "the burst is over at 20/s"
        );
        assert!(
            !y.observe(at(t0, 5), Some(500)),
            "a shrinking queue is no burst"
        );
    }

    #[test]
    fn stands_aside_for_max_at_most_then_works_through_the_burst() {
        let (mut y, t0) = yielder();
        y.observe(at(t0, 0), Some(0));
        let mut ready = 0;
        let mut yielded = Vec::new();
        for s in 1..=9 {
            ready += 300;
            yielded.push(y.observe(at(t0, s), Some(ready)));
        }
        // From 1 s to 6 s it stands aside (5 s, the maximum), then works through.
        assert_eq!(
            yielded,
            [true, true, true, true, true, false, false, false, false]
        );
        assert!(!y.observe(at(t0, 10), Some(ready)), "the burst ended");
        assert!(
            y.observe(at(t0, 11), Some(ready + 500)),
            "a new burst after a pause may be yielded to again"
        );
    }

    #[test]
    fn a_broker_that_cannot_be_asked_never_makes_it_stand_aside() {
        let (mut y, t0) = yielder();
        y.observe(at(t0, 0), Some(0));
        assert!(y.observe(at(t0, 1), Some(500)));
        assert!(!y.observe(at(t0, 2), None));
        assert!(
            !y.observe(at(t0, 3), Some(5000)),
            "growth is measured between two readings again"
        );
        assert!(y.observe(at(t0, 4), Some(6000)));
    }
}
