//! The FSM's timers as deadlines, and the arithmetic that sizes them:
//! connect-retry backoff, peer-oscillation damping (the IdleHoldTimer of
//! RFC 4271 section 8.1.1) and the jitter of RFC 4271 section 10.
//!
//! Nothing here reads a clock: every method that needs the time takes
//! `now`, and the random factor of the jitter comes from a seeded
//! sequence, so a test replays the same run exactly.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One FSM timer: stopped, or running until a deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timer {
    deadline: Option<Instant>,
}

impl Timer {
    /// (Re)starts the timer to expire `after` from `now`. A deadline
    /// beyond what `Instant` can hold means the timer never expires.
    pub fn start(&mut self, now: Instant, after: Duration) {
        self.deadline = now.checked_add(after);
    }

    pub fn stop(&mut self) {
        self.deadline = None;
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn is_running(&self) -> bool {
        self.deadline.is_some()
    }

    /// Whether the timer has expired by `now`; an expired timer stops, so
    /// each expiry is reported once.
    pub fn fire(&mut self, now: Instant) -> bool {
        match self.deadline {
            Some(deadline) if deadline <= now => {
                self.deadline = None;
                true
            }
            _ => false,
        }
    }
}

/// `base * 2^n`, saturating.
fn doubled(base: Duration, n: u32) -> Duration {
    base.checked_mul(1u32 << n.min(31)).unwrap_or(Duration::MAX)
}

/// ConnectRetryTime with exponential backoff: `initial` before the first
/// retry, doubled after each failed attempt, never above `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRetry {
    pub initial: Duration,
    pub max: Duration,
}

impl ConnectRetry {
    /// The wait after `failures` consecutive failed attempts.
    pub fn delay(&self, failures: u32) -> Duration {
        doubled(self.initial, failures).min(self.max)
    }
}

impl Default for ConnectRetry {
    /// 5 s doubling to RFC 4271's suggested 120 s: a fabric peer that
    /// restarts is back within seconds, one that is gone costs little.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(120),
        }
    }
}

/// Peer oscillation damping, RFC 4271 section 8.1.1 (DampPeerOscillations):
/// after a session fails, the FSM waits IdleHoldTime in Idle before it
/// restarts. The wait is `initial` after one failure and doubles on each
/// consecutive failure up to `max`; a session that stays Established for
/// `stable` forgets its earlier failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleHold {
    pub initial: Duration,
    pub max: Duration,
    pub stable: Duration,
}

impl IdleHold {
    /// The IdleHoldTime after `failures` consecutive failures (0: none).
    pub fn delay(&self, failures: u32) -> Duration {
        match failures {
            0 => Duration::ZERO,
            n => doubled(self.initial, n - 1).min(self.max),
        }
    }
}

impl Default for IdleHold {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable: Duration::from_secs(60),
        }
    }
}

/// RFC 4271 section 10 jitter: each timer it applies to is multiplied by
/// a factor in `[0.75, 1.0]`, drawn anew each time the timer is set. The
/// factors come from a SplitMix64 sequence seeded by the caller; no seed
/// means no jitter (factor 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter {
    state: Option<u64>,
}

impl Jitter {
    pub fn new(seed: Option<u64>) -> Self {
        Self { state: seed }
    }

    /// The next factor in `[0.75, 1.0]`.
    pub fn factor(&mut self) -> f64 {
        let Some(state) = self.state.as_mut() else {
            return 1.0;
        };
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a fraction in [0, 1].
        let unit = (z >> 11) as f64 / ((1u64 << 53) - 1) as f64;
        0.75 + 0.25 * unit
    }

    /// `d` scaled by the next factor.
    pub fn apply(&mut self, d: Duration) -> Duration {
        let factor = self.factor();
        Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn timer_fires_once_at_its_deadline() {
        let t0 = Instant::now();
        let mut t = Timer::default();
        assert!(!t.fire(t0));
        t.start(t0, S(3));
        assert_eq!(t.deadline(), Some(t0 + S(3)));
        assert!(!t.fire(t0 + Duration::from_millis(2999)));
        assert!(t.fire(t0 + S(3)));
        assert!(!t.is_running());
        assert!(!t.fire(t0 + S(4)));
    }

    #[test]
    fn a_timer_too_far_away_never_fires() {
        let t0 = Instant::now();
        let mut t = Timer::default();
        t.start(t0, Duration::MAX);
        assert!(!t.is_running());
    }

    #[test]
    fn connect_retry_doubles_to_the_cap() {
        let c = ConnectRetry {
            initial: S(2),
            max: S(20),
        };
        let delays: Vec<_> = (0..6).map(|n| c.delay(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 20, 20]);
        assert_eq!(c.delay(u32::MAX), S(20));
    }

    #[test]
    fn idle_hold_is_zero_without_failures_then_doubles() {
        let h = IdleHold {
            initial: S(1),
            max: S(10),
            stable: S(60),
        };
        let delays: Vec<_> = (0..7).map(|n| h.delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn rfc4271_section10_jitter_stays_between_three_quarters_and_one() {
        let mut j = Jitter::new(Some(7));
        let factors: Vec<f64> = (0..1000).map(|_| j.factor()).collect();
        assert!(factors.iter().all(|f| (0.75..=1.0).contains(f)));
        // Spread over the range, not stuck.
        assert!(factors.iter().any(|f| *f < 0.8) && factors.iter().any(|f| *f > 0.95));
        // Deterministic for a seed.
        let mut again = Jitter::new(Some(7));
        assert_eq!(again.factor(), factors[0]);
        assert_eq!(Jitter::new(None).apply(S(30)), S(30));
        let d = Jitter::new(Some(1)).apply(S(100));
        assert!(d >= S(75) && d <= S(100));
    }
}
