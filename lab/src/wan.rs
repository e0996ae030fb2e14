//! WAN links between site routers, behind one type so the lab does not care
//! how the delay is made.
//!
//! A WAN link is a [`DelayLink`]: netem where the kernel has it, else the
//! userspace delay line (`hr-delayline` in a namespace of its own between
//! the two routers). The rest of the lab (addresses, routers, measurements)
//! takes a `WanLink` and asks it [`WanLink::delays`] whether delays are
//! real, so the demo says which kind of link it measured over.
//!
//! The line process and its namespace are reported through
//! [`WanLink::pids`] and [`WanLink::namespaces`] for the state file, so
//! `lab down` from another shell removes them too; in-process they go when
//! the `WanLink` drops, before the routers' namespaces.

use std::time::Duration;

use crate::delay::{Backend, DelayLink, LinkSpec};
use crate::error::Result;
use crate::link::Iface;
use crate::netns::Netns;
use crate::run::Lab;
use crate::topology::WanImpairment;

/// How a WAN link is carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WanKind {
    /// A veth pair: no delay, jitter or loss.
    Veth,
    /// A delay line or netem holding the configured impairment.
    Delayed,
}

/// A link between two routers; its ends are `a` (in the first namespace)
/// and `b`. Gone when dropped (with its namespaces for a veth).
pub struct WanLink {
    /// The delay line or netem pair (declared first, so it drops first).
    delay: DelayLink,
    pub a: Iface,
    pub b: Iface,
    kind: WanKind,
    impairment: WanImpairment,
}

impl WanLink {
    /// Joins `a` and `b` with interfaces `a_iface` and `b_iface`, delayed
    /// as `impairment` asks (netem if the kernel has it, else the
    /// userspace line); returns once the link forwards.
    pub fn create(
        lab: &Lab,
        a: &Netns,
        a_iface: &str,
        b: &Netns,
        b_iface: &str,
        impairment: WanImpairment,
    ) -> Result<WanLink> {
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        let mut spec = LinkSpec::new(ms(impairment.delay_ms));
        spec.a_iface = a_iface.to_string();
        spec.b_iface = b_iface.to_string();
        spec.impairment.jitter = ms(impairment.jitter_ms);
        spec.impairment.loss = impairment.loss;
        spec.backend = Backend::Auto;
        let delay = DelayLink::create(lab, a, b, &spec)?;
        Ok(WanLink {
            a: delay.a.clone(),
            b: delay.b.clone(),
            delay,
            kind: WanKind::Delayed,
            impairment,
        })
    }

    /// How the link is carried.
    pub fn kind(&self) -> WanKind {
        self.kind
    }

    /// Whether the configured delay is applied.
    pub fn delays(&self) -> bool {
        self.kind == WanKind::Delayed
    }

    /// The configured impairment (applied only if [`WanLink::delays`]).
    pub fn impairment(&self) -> WanImpairment {
        self.impairment
    }

    /// Namespaces the link created of its own (the delay line's), for the
    /// state file.
    pub fn namespaces(&self) -> Vec<String> {
        self.delay
            .middle()
            .map(|m| vec![m.name().to_string()])
            .unwrap_or_default()
    }

    /// Processes carrying the link (the delay line), for the state file.
    pub fn pids(&self) -> Vec<u32> {
        self.delay.pid().into_iter().collect()
    }

    /// The delay line (or netem pair) carrying the link.
    pub fn delay_link(&self) -> &DelayLink {
        &self.delay
    }
}
