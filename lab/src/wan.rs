//! WAN links between site routers, behind one type so the lab does not care
//! how the delay is made.
//!
//! Today a WAN link is a plain veth pair: no delay, jitter or loss (this
//! kernel has no netem). The userspace delay line (`lab::delay`, branch
//! `delay`) plugs in at the single marked point in [`WanLink::create`]; the
//! rest of the lab (addresses, routers, measurements) already takes a
//! `WanLink` and asks it [`WanLink::delays`] whether delays are real, so the
//! demo says which kind of link it measured over.

use crate::error::Result;
use crate::link::{Iface, veth};
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
    pub a: Iface,
    pub b: Iface,
    kind: WanKind,
    impairment: WanImpairment,
}

impl WanLink {
    /// Joins `a` and `b` with interfaces `a_iface` and `b_iface`, as
    /// `impairment` asks if the lab can delay frames, else without delay.
    pub fn create(
        lab: &Lab,
        a: &Netns,
        a_iface: &str,
        b: &Netns,
        b_iface: &str,
        impairment: WanImpairment,
    ) -> Result<WanLink> {
        let _ = lab;
        // INTEGRATION POINT (delay line): with `lab::delay` on the branch,
        // build a `delay::LinkSpec` from `impairment` (delay, jitter, loss;
        // a_iface/b_iface as here), call
        // `delay::DelayLink::create(lab, a, b, &spec)`, keep the guard in a
        // new field (it must drop before the namespaces), take its `a`/`b`
        // ifaces, set `kind: WanKind::Delayed`, and report its middle
        // namespace and line PID through `namespaces()`/`pids()` below.
        let link = veth(a, a_iface, b, b_iface)?;
        Ok(WanLink {
            a: link.a,
            b: link.b,
            kind: WanKind::Veth,
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
        Vec::new()
    }

    /// Processes carrying the link (the delay line), for the state file.
    pub fn pids(&self) -> Vec<u32> {
        Vec::new()
    }
}
