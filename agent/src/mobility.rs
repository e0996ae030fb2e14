//! Mobility: which sequence a local host route carries, the timeline of a
//! prefix's moves between hypervisors, and duplicate detection. Pure: the
//! controller passes the clock and carries out what it is told.
//!
//! The rules follow EVPN MAC mobility (RFC 7432 section 15), with a host
//! route in place of a MAC:
//!
//! - **Sequence on arrival**: the highest sequence any *other* hypervisor
//!   advertises for the prefix, plus one (serial arithmetic, RFC 1982);
//!   0 when no one else has it. A path of our own that is still in the RIB
//!   (a restart: peers keep our routes as graceful-restart stale paths) is
//!   not a move: its sequence is kept unless another host's is higher.
//! - **A move** is a change of the prefix's best path from one origin (a
//!   hypervisor's router id, or this host) to another. Every hypervisor
//!   sees the same moves, so every one keeps the same timeline.
//! - **Duplicate detection**: more than `duplicate_moves` moves within
//!   `duplicate_window` freeze the prefix (RFC 7432 section 15.1: two VMs
//!   claim one address, or a VM flaps). A frozen prefix is not originated
//!   here again until the freeze ends (`freeze`, or never when it is
//!   `None`); it is reported, with its moves, by `show moves`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use proto::bgp::{Mobility as MobilityCommunity, Sequence};
use serde::Serialize;

/// Duplicate detection settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MobilityConfig {
    /// More than this many moves within `duplicate_window` freeze a prefix.
    pub duplicate_moves: u32,
    pub duplicate_window: Duration,
    /// How long a freeze lasts; `None`: until the daemon restarts.
    pub freeze: Option<Duration>,
}

impl Default for MobilityConfig {
    fn default() -> Self {
        Self {
            duplicate_moves: 5,
            duplicate_window: Duration::from_secs(180),
            freeze: Some(Duration::from_secs(180)),
        }
    }
}

/// Where a prefix's best path comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    /// A VM on this hypervisor.
    Local,
    /// Another hypervisor: the ORIGINATOR_ID a route reflector added (the
    /// originating hypervisor's router id), else the path's next hop (the
    /// hypervisor itself over direct iBGP, or the router in front of it).
    Remote(IpAddr),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local => f.write_str("local"),
            Location::Remote(id) => write!(f, "{id}"),
        }
    }
}

/// One path of a prefix, as far as mobility cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub location: Location,
    /// Its mobility community (sequence 0, not static, when it has none).
    pub mobility: MobilityCommunity,
}

/// One move of a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub prefix: IpNet,
    pub at: SystemTime,
    pub from: Location,
    pub to: Location,
    pub sequence: u32,
    /// For a move to this host: from the VM's announcement (the kernel's
    /// receive time of the frame) to the route handed to the speaker.
    pub detection_to_advertise: Option<Duration>,
}

/// A frozen prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frozen {
    pub prefix: IpNet,
    /// Moves counted in the window when it froze.
    pub moves: u32,
    pub since: SystemTime,
    /// When the freeze ends; `None`: it does not end by itself.
    #[serde(skip)]
    pub until: Option<Instant>,
}

/// Per-prefix state; only prefixes that moved have one.
#[derive(Debug, Default)]
struct Track {
    recent: VecDeque<Instant>,
    frozen: Option<Frozen>,
}

/// Moves kept for `show moves`, oldest dropped first.
const TIMELINE: usize = 4096;

/// The mobility state of one hypervisor.
#[derive(Debug)]
pub struct Mobility {
    config: MobilityConfig,
    tracks: HashMap<IpNet, Track>,
    timeline: VecDeque<Move>,
}

/// The sequence a route to a VM that arrives here carries, given every
/// path the RIB holds for its prefix (see the module docs).
pub fn arrival_sequence(claims: &[Claim]) -> Sequence {
    // The speaker applies the same rule in its own turn
    // (`SpeakerHandle::originate_arrival`); one definition for both.
    speaker::rib::next_sequence(
        claims
            .iter()
            .map(|c| (c.location == Location::Local, c.mobility.sequence)),
    )
}

impl Mobility {
    pub fn new(config: MobilityConfig) -> Self {
        Self {
            config,
            tracks: HashMap::new(),
            timeline: VecDeque::new(),
        }
    }

    pub fn config(&self) -> MobilityConfig {
        self.config
    }

    /// Records a move of the prefix's best path (nothing when `from` and
    /// `to` are the same place). Returns the freeze this move caused, if it
    /// is the one too many.
    pub fn moved(&mut self, record: Move, now: Instant) -> Option<Frozen> {
        if record.from == record.to {
            return None;
        }
        if self.timeline.len() == TIMELINE {
            self.timeline.pop_front();
        }
        let (prefix, wall) = (record.prefix, record.at);
        self.timeline.push_back(record);
        let window = self.config.duplicate_window;
        let limit = self.config.duplicate_moves;
        let freeze = self.config.freeze;
        let track = self.tracks.entry(prefix).or_default();
        while track
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > window)
        {
            track.recent.pop_front();
        }
        track.recent.push_back(now);
        let count = u32::try_from(track.recent.len()).unwrap_or(u32::MAX);
        if count > limit && track.frozen.is_none() {
            let frozen = Frozen {
                prefix,
                moves: count,
                since: wall,
                until: freeze.map(|d| now + d),
            };
            track.frozen = Some(frozen.clone());
            return Some(frozen);
        }
        None
    }

    /// Whether the prefix is frozen now.
    pub fn is_frozen(&self, prefix: &IpNet) -> bool {
        self.tracks.get(prefix).is_some_and(|t| t.frozen.is_some())
    }

    /// Ends the freezes whose time is up; returns their prefixes.
    pub fn thaw(&mut self, now: Instant) -> Vec<IpNet> {
        let mut thawed = Vec::new();
        for (prefix, track) in &mut self.tracks {
            if track
                .frozen
                .as_ref()
                .and_then(|f| f.until)
                .is_some_and(|until| until <= now)
            {
                track.frozen = None;
                track.recent.clear();
                thawed.push(*prefix);
            }
        }
        let window = self.config.duplicate_window;
        self.tracks.retain(|_, t| {
            t.frozen.is_some()
                || t.recent
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) <= window)
        });
        thawed
    }

    /// The move timeline, oldest first, optionally for one prefix.
    pub fn moves(&self, prefix: Option<IpNet>) -> Vec<Move> {
        self.timeline
            .iter()
            .filter(|m| prefix.is_none_or(|p| m.prefix == p))
            .cloned()
            .collect()
    }

    /// Every frozen prefix.
    pub fn frozen(&self) -> Vec<Frozen> {
        let mut all: Vec<Frozen> = self
            .tracks
            .values()
            .filter_map(|t| t.frozen.clone())
            .collect();
        all.sort_by_key(|f| f.prefix);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv4Addr;

    const US: Location = Location::Local;
    const HV2: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 12));
    const HV3: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 13));

    fn claim(location: impl Into<Where>, seq: u32) -> Claim {
        Claim {
            location: location.into().0,
            mobility: MobilityCommunity::new(seq, false),
        }
    }

    struct Where(Location);
    impl From<Location> for Where {
        fn from(l: Location) -> Self {
            Where(l)
        }
    }
    impl From<IpAddr> for Where {
        fn from(a: IpAddr) -> Self {
            Where(Location::Remote(a))
        }
    }

    fn mv(
        prefix: IpNet,
        from: Location,
        to: Location,
        sequence: u32,
        detection_to_advertise: Option<Duration>,
        at: SystemTime,
    ) -> Move {
        Move {
            prefix,
            at,
            from,
            to,
            sequence,
            detection_to_advertise,
        }
    }

    fn p() -> IpNet {
        "10.1.1.5/32".parse().unwrap()
    }

    #[test]
    fn a_new_vm_starts_at_sequence_zero() {
        assert_eq!(arrival_sequence(&[]), Sequence(0));
    }

    #[test]
    fn an_arrival_takes_the_highest_other_sequence_plus_one() {
        let claims = [claim(HV2, 3), claim(HV3, 7)];
        assert_eq!(arrival_sequence(&claims), Sequence(8));
    }

    #[test]
    fn our_own_surviving_path_is_not_a_move() {
        // After a restart peers still hold our route with sequence 4.
        assert_eq!(arrival_sequence(&[claim(US, 4)]), Sequence(4));
        // Someone else's older path does not push ours back.
        assert_eq!(
            arrival_sequence(&[claim(US, 4), claim(HV2, 2)]),
            Sequence(4)
        );
        // A newer one elsewhere does.
        assert_eq!(
            arrival_sequence(&[claim(US, 4), claim(HV2, 6)]),
            Sequence(7)
        );
    }

    #[test]
    fn sequences_wrap_by_serial_arithmetic() {
        let claims = [claim(HV2, u32::MAX)];
        assert_eq!(arrival_sequence(&claims), Sequence(0));
        // 1 is newer than u32::MAX in serial arithmetic.
        let claims = [claim(HV2, u32::MAX), claim(HV3, 1)];
        assert_eq!(arrival_sequence(&claims), Sequence(2));
    }

    #[test]
    fn a_best_path_staying_put_is_not_a_move() {
        let mut m = Mobility::new(MobilityConfig::default());
        let now = Instant::now();
        let r = Location::Remote(HV2);
        assert_eq!(
            m.moved(mv(p(), r, r, 1, None, SystemTime::now()), now),
            None
        );
        assert!(m.moves(None).is_empty());
    }

    #[test]
    fn moves_are_kept_in_order_per_prefix() {
        let mut m = Mobility::new(MobilityConfig::default());
        let now = Instant::now();
        let wall = SystemTime::now();
        let other: IpNet = "10.1.1.6/32".parse().unwrap();
        m.moved(
            mv(p(), Location::Local, Location::Remote(HV2), 1, None, wall),
            now,
        );
        m.moved(
            mv(other, Location::Remote(HV3), Location::Local, 1, None, wall),
            now,
        );
        m.moved(
            mv(
                p(),
                Location::Remote(HV2),
                Location::Local,
                2,
                Some(Duration::from_micros(80)),
                wall,
            ),
            now,
        );
        let moves = m.moves(Some(p()));
        assert_eq!(moves.len(), 2);
        assert_eq!(moves[0].to, Location::Remote(HV2));
        assert_eq!(moves[1].to, Location::Local);
        assert_eq!(moves[1].sequence, 2);
        assert_eq!(
            moves[1].detection_to_advertise,
            Some(Duration::from_micros(80))
        );
        assert_eq!(m.moves(None).len(), 3);
    }

    #[test]
    fn the_sixth_move_in_the_window_freezes_the_prefix() {
        let mut m = Mobility::new(MobilityConfig::default());
        let start = Instant::now();
        let wall = SystemTime::now();
        let mut froze = None;
        for i in 0..6u32 {
            let (from, to) = if i % 2 == 0 {
                (Location::Local, Location::Remote(HV2))
            } else {
                (Location::Remote(HV2), Location::Local)
            };
            let at = start + Duration::from_secs(u64::from(i) * 10);
            let f = m.moved(mv(p(), from, to, i + 1, None, wall), at);
            if i < 5 {
                assert_eq!(f, None, "move {} must not freeze", i + 1);
            } else {
                froze = f;
            }
        }
        let frozen = froze.expect("the sixth move freezes");
        assert_eq!(frozen.moves, 6);
        assert!(m.is_frozen(&p()));
        assert_eq!(m.frozen().len(), 1);
    }

    #[test]
    fn moves_outside_the_window_do_not_count() {
        let mut m = Mobility::new(MobilityConfig::default());
        let start = Instant::now();
        let wall = SystemTime::now();
        for i in 0..12u32 {
            let (from, to) = if i % 2 == 0 {
                (Location::Local, Location::Remote(HV2))
            } else {
                (Location::Remote(HV2), Location::Local)
            };
            // One move every 40 s: at most 5 in any 180 s window.
            let at = start + Duration::from_secs(u64::from(i) * 40);
            assert_eq!(m.moved(mv(p(), from, to, i, None, wall), at), None);
        }
        assert!(!m.is_frozen(&p()));
    }

    #[test]
    fn a_freeze_ends_after_its_time_and_a_permanent_one_does_not() {
        let config = MobilityConfig {
            duplicate_moves: 1,
            duplicate_window: Duration::from_secs(60),
            freeze: Some(Duration::from_secs(30)),
        };
        let mut m = Mobility::new(config);
        let t0 = Instant::now();
        let wall = SystemTime::now();
        m.moved(
            mv(p(), Location::Local, Location::Remote(HV2), 1, None, wall),
            t0,
        );
        assert!(
            m.moved(
                mv(p(), Location::Remote(HV2), Location::Local, 2, None, wall),
                t0
            )
            .is_some()
        );
        assert!(m.thaw(t0 + Duration::from_secs(29)).is_empty());
        assert_eq!(m.thaw(t0 + Duration::from_secs(30)), vec![p()]);
        assert!(!m.is_frozen(&p()));

        let mut m = Mobility::new(MobilityConfig {
            freeze: None,
            ..config
        });
        m.moved(
            mv(p(), Location::Local, Location::Remote(HV2), 1, None, wall),
            t0,
        );
        m.moved(
            mv(p(), Location::Remote(HV2), Location::Local, 2, None, wall),
            t0,
        );
        assert!(m.thaw(t0 + Duration::from_secs(3600)).is_empty());
        assert!(m.is_frozen(&p()));
    }

    #[test]
    fn the_timeline_is_bounded() {
        let mut m = Mobility::new(MobilityConfig {
            duplicate_moves: u32::MAX,
            ..MobilityConfig::default()
        });
        let now = Instant::now();
        let wall = SystemTime::now();
        for i in 0..(TIMELINE as u32 + 10) {
            let (from, to) = if i % 2 == 0 {
                (Location::Local, Location::Remote(HV2))
            } else {
                (Location::Remote(HV2), Location::Local)
            };
            m.moved(mv(p(), from, to, i, None, wall), now);
        }
        let moves = m.moves(None);
        assert_eq!(moves.len(), TIMELINE);
        assert_eq!(moves[0].sequence, 10);
    }
}
