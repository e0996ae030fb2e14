//! Live migration of a VM between hypervisors, as QEMU and libvirt do it as
//! far as the network sees: the VM (its namespace, addresses, sockets and
//! TCP connections) stays; it is paused for the stop-and-copy blackout; its
//! vNIC reappears on the destination; it announces itself.
//!
//! ```text
//!       hv3 agent: migration begins (hostroute: `vm migrate-begin`)
//!   t0  tap-vm1 down (the VM's eth0 loses carrier)    ── blackout ──┐
//!       tap-vm1: hv1 ──RTM_SETLINK netns──> hv3, down                │
//!       (hostroute: hv1 withdraws, hv3 makes the tap a gateway)      │
//!       hv3: the tap comes up (L2 stretch: as a bridge port)     <───┘
//!   t1  RARP + gratuitous ARP + unsolicited NA from the VM
//!       hv3 agent: announced -> originate the /32 (sequence + 1)
//!       hv1 agent: tap gone -> withdraw
//! ```
//!
//! The real daemon detects the last three steps itself (tap appearing and
//! leaving, the announcement); the stand-in agent is told.
//!
//! `announced_at` (t1) is when the first announcement frame left: the
//! moment convergence is measured from.

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::link::Iface;
use crate::rtlink::LinkControl;
use crate::scenario::{Deployment, Mode};
use crate::stretch;

/// What happened during one move, with times.
#[derive(Clone, Debug, Serialize)]
pub struct MoveRecord {
    pub vm: String,
    pub from: String,
    pub to: String,
    /// Configured pause of the VM.
    pub blackout_ms: f64,
    /// From the VM's link going down to the first announcement frame.
    pub link_down_ms: f64,
    /// Mobility sequence the destination used, when the lab chose it (the
    /// stand-in agent; the daemon picks its own, see `show routes`).
    pub sequence: Option<u32>,
    #[serde(skip)]
    pub started: Option<Instant>,
    #[serde(skip)]
    pub announced: Option<Instant>,
    pub announced_at: SystemTime,
}

impl MoveRecord {
    /// When the announcement left (monotonic).
    pub fn announced(&self) -> Instant {
        self.announced.unwrap_or_else(Instant::now)
    }
}

/// Moves `vm` to hypervisor `to`, pausing it for `blackout`.
pub fn migrate(d: &mut Deployment, vm: &str, to: &str, blackout: Duration) -> Result<MoveRecord> {
    let from = d.vm(vm)?.hypervisor.clone();
    if from == to {
        return Err(Error::Config(format!("{vm} already runs on {to}")));
    }
    if !d
        .topology
        .sites
        .iter()
        .any(|s| s.hypervisors.iter().any(|h| h == to))
    {
        return Err(Error::Config(format!("{to:?} is not a hypervisor")));
    }
    let dest = d
        .nodes
        .get(to)
        .ok_or_else(|| Error::Config(format!("no node {to}")))?;
    let vm_ref = d
        .vms
        .get_mut(vm)
        .ok_or_else(|| Error::Config(format!("no VM {vm}")))?;
    if d.mode == Mode::Hostroute {
        // libvirt's hook at the destination, before the VM is paused.
        d.agents
            .get_mut(to)
            .ok_or_else(|| Error::Config(format!("no agent on {to}")))?
            .migration_begins(&vm_ref.port())?;
    }
    // Netlink sockets in both hypervisors, opened ahead: unplugging and
    // plugging must not wait for `ip` processes to start.
    let tap = vm_ref.tap.name().to_string();
    let mut source = LinkControl::open(vm_ref.tap.netns())?;
    let mut target = LinkControl::open(dest.name())?;
    let bridge = match d.mode {
        Mode::L2Stretch => Some(target.index_of(stretch::BRIDGE)?),
        Mode::Hostroute => None,
    };
    let started = Instant::now();
    tracing::info!(vm, %from, %to, ?blackout, "lab: live migration starts");

    // Stop-and-copy: the vNIC is unplugged for the blackout (the VM's
    // eth0 loses its carrier but keeps its addresses and routes, as a
    // paused guest does) and its tap moves to the destination, down: as
    // with QEMU, the destination's tap exists before the VM resumes there.
    // At the switch-over it comes up, as libvirt brings a tap up (in
    // L2-stretch mode as a bridge port), and the VM announces itself.
    let old_port = vm_ref.port();
    source.set_up(&tap, false)?;
    source.move_to(&tap, dest.name())?;
    let elapsed = started.elapsed();
    if elapsed < blackout {
        std::thread::sleep(blackout - elapsed);
    }
    match bridge {
        Some(index) => target.enslave_up(&tap, index)?,
        None => target.set_up(&tap, true)?,
    }
    vm_ref.tap = Iface::new(dest, &tap);
    vm_ref.hypervisor = to.to_string();
    let port = vm_ref.port();
    if d.mode == Mode::Hostroute {
        d.agents
            .get_mut(to)
            .ok_or_else(|| Error::Config(format!("no agent on {to}")))?
            .port_up(&port)?;
    }

    // Resumed: announce, as QEMU does after the switch-over.
    let vm_ref = d
        .vms
        .get(vm)
        .ok_or_else(|| Error::Config(format!("no VM {vm}")))?;
    let announced = vm_ref.announce()?;
    let announced_at = SystemTime::now() - announced.elapsed();

    let mut sequence = None;
    if d.mode == Mode::Hostroute {
        // What the daemon's detectors would report: the announcement at the
        // destination, the tap gone at the source.
        let seq = d.sequences.get(vm).copied().unwrap_or(0) + 1;
        sequence = d
            .agents
            .get_mut(to)
            .ok_or_else(|| Error::Config(format!("no agent on {to}")))?
            .vm_announced(&port, seq)?;
        if let Some(agent) = d.agents.get_mut(&from) {
            agent.port_gone(&old_port)?;
        }
        d.sequences.insert(vm.to_string(), seq);
    }
    d.recorder.update(|s| {
        s.info.insert(format!("vm {vm}"), to.to_string());
    })?;
    tracing::info!(vm, %from, %to, "lab: live migration done");
    Ok(MoveRecord {
        vm: vm.to_string(),
        from,
        to: to.to_string(),
        blackout_ms: blackout.as_secs_f64() * 1000.0,
        link_down_ms: announced.duration_since(started).as_secs_f64() * 1000.0,
        sequence,
        started: Some(started),
        announced: Some(announced),
        announced_at,
    })
}
