//! The delay line's decisions, without sockets or clocks: when a frame
//! received at `t` leaves (`t + delay + jitter sample`, never before the
//! frame ahead of it), whether it is lost, and whether the queue has room.
//!
//! Like netem with `rate` or a FIFO child, the line never reorders: a
//! jitter sample that would send a frame before its predecessor is raised
//! to the predecessor's departure time, so jitter only ever adds delay to
//! the frames behind a late one.

use std::time::{Duration, Instant};

/// What one direction of the line does to each frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Impairment {
    /// One-way delay added to every frame.
    pub delay: Duration,
    /// Each frame's delay is `delay + u`, `u` uniform in `[-jitter, +jitter]`
    /// (netem's default distribution), and never below zero.
    pub jitter: Duration,
    /// Probability in `[0, 1]` that a frame is dropped (independent per
    /// frame, like netem's `loss random`).
    pub loss: f64,
    /// Most bytes a direction holds; a frame that does not fit is dropped
    /// (tail drop) and counted.
    pub queue_bytes: usize,
}

impl Impairment {
    /// Checks the ranges the flags accept.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(format!("loss {} is not in [0, 1]", self.loss));
        }
        if self.queue_bytes == 0 {
            return Err("queue_bytes must be positive".into());
        }
        Ok(())
    }
}

/// Why a frame does not go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// Chosen by the loss probability.
    Lost,
    /// The queue held `queue_bytes` already.
    QueueFull,
}

/// One direction's scheduler: feed it each received frame in order.
#[derive(Debug)]
pub struct Schedule {
    impairment: Impairment,
    rng: SplitMix64,
    last_departure: Option<Instant>,
}

impl Schedule {
    /// A scheduler drawing jitter and loss from a generator seeded with
    /// `seed` (the same seed and arrivals give the same decisions).
    pub fn new(impairment: Impairment, seed: u64) -> Schedule {
        Schedule {
            impairment,
            rng: SplitMix64(seed),
            last_departure: None,
        }
    }

    /// The impairment this scheduler applies.
    pub fn impairment(&self) -> &Impairment {
        &self.impairment
    }

    /// Decides the fate of a frame of `len` bytes received at `received`,
    /// with `queued` bytes already waiting: its departure time, or why it
    /// is dropped. Loss is drawn before the queue check, as netem does, so
    /// a full queue does not change which frames the loss process picks.
    pub fn admit(
        &mut self,
        received: Instant,
        len: usize,
        queued: usize,
    ) -> Result<Instant, Dropped> {
        if self.impairment.loss > 0.0 && self.rng.unit() < self.impairment.loss {
            return Err(Dropped::Lost);
        }
        if queued.saturating_add(len) > self.impairment.queue_bytes {
            return Err(Dropped::QueueFull);
        }
        let mut departure = received + self.sample_delay();
        if let Some(last) = self.last_departure {
            departure = departure.max(last);
        }
        self.last_departure = Some(departure);
        Ok(departure)
    }

    fn sample_delay(&mut self) -> Duration {
        let Impairment { delay, jitter, .. } = self.impairment;
        if jitter.is_zero() {
            return delay;
        }
        // u in [-1, 1): the offset is u * jitter.
        let u = self.rng.unit() * 2.0 - 1.0;
        let offset = jitter.mul_f64(u.abs());
        if u < 0.0 {
            delay.saturating_sub(offset)
        } else {
            delay + offset
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast and good enough for
/// jitter and loss draws; seeded so runs can be repeated.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imp(delay_ms: u64, jitter_ms: u64, loss: f64) -> Impairment {
        Impairment {
            delay: Duration::from_millis(delay_ms),
            jitter: Duration::from_millis(jitter_ms),
            loss,
            queue_bytes: 10_000,
        }
    }

    #[test]
    fn fixed_delay_is_added_to_the_receive_time() {
        let mut s = Schedule::new(imp(20, 0, 0.0), 1);
        let t = Instant::now();
        assert_eq!(s.admit(t, 100, 0), Ok(t + Duration::from_millis(20)));
        let t2 = t + Duration::from_millis(1);
        assert_eq!(s.admit(t2, 100, 100), Ok(t2 + Duration::from_millis(20)));
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        // Arrivals 10 ms apart never catch up with each other, so every
        // frame gets its own sample; 100 µs apart, most are held behind a
        // predecessor.
        for spacing_us in [10_000, 100] {
            let mut s = Schedule::new(imp(20, 5, 0.0), 7);
            let start = Instant::now();
            let mut last = start;
            let (mut below, mut above) = (0, 0);
            for i in 0..10_000u64 {
                let t = start + Duration::from_micros(i * spacing_us);
                let d = s.admit(t, 60, 0).unwrap();
                assert!(d >= last, "frame {i} would overtake its predecessor");
                last = d;
                let delay = d - t;
                // Raised to a predecessor's departure: still at most the
                // largest sample.
                assert!(delay >= Duration::from_millis(15), "{delay:?}");
                assert!(delay <= Duration::from_millis(25), "{delay:?}");
                below += usize::from(delay < Duration::from_millis(19));
                above += usize::from(delay > Duration::from_millis(21));
            }
            if spacing_us == 10_000 {
                // Uniform: 40 % of the samples are in each outer band.
                assert!((3500..4500).contains(&below), "below {below}");
                assert!((3500..4500).contains(&above), "above {above}");
            } else {
                assert!(above > 9000, "held frames leave late: {above}");
            }
        }
    }

    #[test]
    fn jitter_larger_than_the_delay_clamps_at_zero() {
        let mut s = Schedule::new(imp(1, 5, 0.0), 3);
        let t = Instant::now();
        for _ in 0..1000 {
            let d = s.admit(t, 60, 0).unwrap();
            assert!(d >= t && d <= t + Duration::from_millis(6));
        }
    }

    #[test]
    fn loss_one_drops_everything_and_zero_nothing() {
        let t = Instant::now();
        let mut all = Schedule::new(imp(5, 0, 1.0), 1);
        let mut none = Schedule::new(imp(5, 0, 0.0), 1);
        for _ in 0..1000 {
            assert_eq!(all.admit(t, 60, 0), Err(Dropped::Lost));
            assert!(none.admit(t, 60, 0).is_ok());
        }
    }

    #[test]
    fn loss_rate_matches_the_probability_and_the_seed_repeats() {
        let t = Instant::now();
        let run = |seed| {
            let mut s = Schedule::new(imp(5, 0, 0.1), seed);
            (0..100_000)
                .map(|_| s.admit(t, 60, 0).is_err())
                .collect::<Vec<_>>()
        };
        let a = run(42);
        let lost = a.iter().filter(|l| **l).count();
        assert!((9_000..11_000).contains(&lost), "{lost}");
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
    }

    #[test]
    fn a_full_queue_tail_drops() {
        let mut s = Schedule::new(imp(5, 0, 0.0), 1);
        let t = Instant::now();
        assert!(s.admit(t, 1000, 9000).is_ok());
        assert_eq!(s.admit(t, 1001, 9000), Err(Dropped::QueueFull));
    }

    #[test]
    fn impairment_ranges_are_checked() {
        assert!(imp(1, 0, 0.5).check().is_ok());
        assert!(imp(1, 0, 1.5).check().is_err());
        assert!(imp(1, 0, -0.1).check().is_err());
        assert!(imp(1, 0, f64::NAN).check().is_err());
        let mut zero = imp(1, 0, 0.0);
        zero.queue_bytes = 0;
        assert!(zero.check().is_err());
    }

    #[test]
    fn unit_is_in_range() {
        let mut r = SplitMix64(0);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
