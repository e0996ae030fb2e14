//! Test harness: drive an [`Fsm`] or a [`Peer`] with inputs at times
//! given in milliseconds from the start, and compare the outputs in their
//! short form (`Send(NOTIFICATION 4/0)`, `out#1 Close`).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use proto::bgp::{
    AfiSafi, Capability, Decoded, GracefulRestartFamily, HoldTime, Message, Notification, Open,
    Update,
};

use super::config::{GracefulRestartConfig, SessionConfig};
use super::event::{Input, Output, State};
use super::fsm::Fsm;
use super::{ConnId, Peer, PeerInput, PeerOutput};

pub const LOCAL_AS: u32 = 65001;
pub const REMOTE_AS: u32 = 65002;
pub const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const REMOTE_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// eBGP 65001 -> 65002, hold 90 s, connect retry 5 s doubling to 120 s,
/// idle hold 1 s doubling to 60 s, no jitter.
pub fn cfg() -> SessionConfig {
    SessionConfig::new(LOCAL_AS, REMOTE_AS, LOCAL_ID)
}

/// `cfg()` with graceful restart (restart time 120 s) and the N bit as given.
pub fn gr_cfg(n_bit: bool) -> SessionConfig {
    let mut c = cfg();
    c.graceful_restart = Some(gr(120, n_bit));
    c
}

pub fn gr(restart_time: u16, n_bit: bool) -> GracefulRestartConfig {
    GracefulRestartConfig {
        restart_time,
        restarting: false,
        notification: n_bit,
        families: vec![GracefulRestartFamily::new(AfiSafi::IPV4_UNICAST, true)],
    }
}

/// The peer's OPEN: AS 65002, hold 90, identifier 10.0.0.2.
pub fn peer_open() -> Open {
    open_from(REMOTE_AS, 90, REMOTE_ID, vec![])
}

/// The peer's OPEN with graceful restart (restart time 60 s).
pub fn peer_gr_open(n_bit: bool) -> Open {
    open_from(REMOTE_AS, 90, REMOTE_ID, vec![gr(60, n_bit).capability()])
}

pub fn open_from(asn: u32, hold: u16, id: Ipv4Addr, mut caps: Vec<Capability>) -> Open {
    caps.push(Capability::FourOctetAs(asn));
    Open::new(asn, HoldTime::new(hold).unwrap(), id, caps)
}

pub fn update() -> Decoded {
    Decoded {
        message: Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)),
        problems: vec![],
    }
}

pub fn notification(code: u8, subcode: u8) -> Notification {
    Notification::new(proto::bgp::ErrorCode::from_codes(code, subcode), vec![])
}

pub fn strings<T: ToString>(outputs: &[T]) -> Vec<String> {
    outputs.iter().map(ToString::to_string).collect()
}

/// An [`Fsm`] and a clock.
pub struct Script {
    pub fsm: Fsm,
    pub t0: Instant,
    pub now: Instant,
}

impl Script {
    pub fn new(cfg: SessionConfig) -> Self {
        let t0 = Instant::now();
        Self {
            fsm: Fsm::new(cfg),
            t0,
            now: t0,
        }
    }

    /// Feeds `input` at `ms` after the start; the outputs in short form.
    pub fn at(&mut self, ms: u64, input: Input) -> Vec<String> {
        strings(&self.raw(ms, input))
    }

    pub fn raw(&mut self, ms: u64, input: Input) -> Vec<Output> {
        let now = self.t0 + Duration::from_millis(ms);
        assert!(now >= self.now, "time runs forward: {ms} ms");
        self.now = now;
        let mut out = Vec::new();
        self.fsm.handle(now, input, &mut out);
        out
    }

    /// `Input::Timers` at `ms`.
    pub fn tick(&mut self, ms: u64) -> Vec<String> {
        self.at(ms, Input::Timers)
    }

    /// Each step's outputs must be exactly the ones listed.
    pub fn run(&mut self, steps: &[(u64, Input, &[&str])]) {
        for (ms, input, expected) in steps {
            let got = self.at(*ms, input.clone());
            assert_eq!(got, *expected, "at {ms} ms after {input:?}");
        }
    }

    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// The next deadline in milliseconds after the start.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.fsm
            .next_deadline()
            .map(|d| d.duration_since(self.t0).as_millis() as u64)
    }

    /// Started, connected and Established at `ms` with the peer's `open`.
    pub fn establish(&mut self, ms: u64, open: Open) {
        if self.fsm.state() == State::Idle {
            self.at(ms, Input::ManualStart);
        }
        self.at(ms, Input::TcpCrAcked);
        self.at(ms, Input::BgpOpen(open));
        let out = self.at(ms, Input::KeepAliveMsg);
        assert!(
            out.iter().any(|o| o.starts_with("Established")),
            "not established: {out:?}"
        );
    }
}

/// A started, Established session at t = 0.
pub fn established(cfg: SessionConfig, open: Open) -> Script {
    let mut s = Script::new(cfg);
    s.establish(0, open);
    s
}

/// A [`Peer`] and a clock.
pub struct PeerScript {
    pub peer: Peer,
    pub t0: Instant,
    pub now: Instant,
}

pub const OUT1: ConnId = ConnId::Outbound(1);
pub const OUT2: ConnId = ConnId::Outbound(2);
pub const IN1: ConnId = ConnId::Inbound(1);
pub const IN2: ConnId = ConnId::Inbound(2);

impl PeerScript {
    pub fn new(cfg: SessionConfig) -> Self {
        let t0 = Instant::now();
        Self {
            peer: Peer::new(cfg),
            t0,
            now: t0,
        }
    }

    pub fn raw(&mut self, ms: u64, input: PeerInput) -> Vec<PeerOutput> {
        let now = self.t0 + Duration::from_millis(ms);
        assert!(now >= self.now, "time runs forward: {ms} ms");
        self.now = now;
        let mut out = Vec::new();
        self.peer.handle(now, input, &mut out);
        out
    }

    pub fn session(&mut self, ms: u64, input: Input) -> Vec<String> {
        strings(&self.raw(ms, PeerInput::Session(input)))
    }

    pub fn conn(&mut self, ms: u64, id: ConnId, input: Input) -> Vec<String> {
        strings(&self.raw(ms, PeerInput::Conn(id, input)))
    }

    pub fn state(&self) -> State {
        self.peer.state()
    }
}
