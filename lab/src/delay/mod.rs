//! WAN links with one-way delay, jitter and loss between two lab
//! namespaces.
//!
//! Where the kernel has the `netem` qdisc, a link is a plain veth pair with
//! netem on both ends. Where it has not (this project's dev machine and CI),
//! the link goes through a namespace of its own in which `hr-delayline`
//! forwards frames between two veth ends after the configured delay:
//!
//! ```text
//!   netem:      A: <a_iface> ─────────── veth ─────────── B: <b_iface>
//!               (netem on each end: delay, jitter, loss)
//!
//!   userspace:  A: <a_iface> ── veth ── D: la ─┐      ┌─ lb ── veth ── B: <b_iface>
//!                                              └ hr-delayline ┘
//!               D has no addresses, no IPv6, no forwarding; offloads
//!               (checksum, segmentation) are off on all four ends, so every
//!               frame is one complete wire frame.
//! ```
//!
//! Either way A and B see one Ethernet link between `a_iface` and
//! `b_iface`; the caller addresses them. [`DelayLink`] is a guard: the line
//! process stops and D is deleted when it drops (declare it after the
//! namespaces it joins, so it drops first).
//!
//! How `hr-delayline` works is in [`line`]; what it decides for each frame
//! (departure time, loss, queue room) is the pure [`schedule`].

pub mod line;
pub mod probe;
pub mod schedule;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::link::{Iface, veth};
use crate::netns::Netns;
use crate::process::{Child, run_command, wait_until};
use crate::run::Lab;

pub use schedule::Impairment;

/// How long `hr-delayline` gets to open its sockets.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The line prints this once its sockets are bound.
pub const READY_LINE: &str = "hr-delayline: ready";

/// netem's queue limit, in packets (its default, 1000, is below a 20 ms
/// queue at 1 Gbit/s).
const NETEM_LIMIT: u32 = 100_000;

/// Which implementation carries a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// netem if the kernel has it, the userspace line otherwise.
    Auto,
    /// `hr-delayline` in a namespace of its own.
    Userspace,
    /// The kernel's netem qdisc (an error where the kernel lacks it).
    Netem,
}

/// A WAN link's configuration.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    /// The link's interface in namespace A and in namespace B.
    pub a_iface: String,
    pub b_iface: String,
    /// One-way delay, jitter, loss and queue size, the same both ways.
    pub impairment: Impairment,
    /// Seeds jitter and loss (userspace backend).
    pub seed: u64,
    /// How long before each departure `hr-delayline` spins instead of
    /// sleeping.
    pub spin: Duration,
    /// Run `hr-delayline` under SCHED_FIFO at this priority (`chrt -f`),
    /// so its threads wake ahead of ordinary work on a busy machine; `None`
    /// leaves it an ordinary process.
    pub rt_priority: Option<u8>,
    pub backend: Backend,
}

impl LinkSpec {
    /// A link with `delay` each way and no jitter or loss, named `wan0` on
    /// both sides, on whichever backend the kernel allows.
    pub fn new(delay: Duration) -> LinkSpec {
        LinkSpec {
            a_iface: "wan0".into(),
            b_iface: "wan0".into(),
            impairment: Impairment {
                delay,
                jitter: Duration::ZERO,
                loss: 0.0,
                queue_bytes: 16 << 20,
            },
            seed: 1,
            spin: Duration::ZERO,
            rt_priority: Some(10),
            backend: Backend::Auto,
        }
    }

    /// The `hr-delayline` arguments for interfaces `a` and `b`.
    pub fn line_args(&self, a: &str, b: &str) -> Vec<String> {
        let Impairment {
            delay,
            jitter,
            loss,
            queue_bytes,
        } = self.impairment;
        let ms = |d: Duration| format!("{}", d.as_secs_f64() * 1000.0);
        [
            ("--a", a.to_string()),
            ("--b", b.to_string()),
            ("--delay-ms", ms(delay)),
            ("--jitter-ms", ms(jitter)),
            ("--loss", loss.to_string()),
            ("--seed", self.seed.to_string()),
            ("--queue-bytes", queue_bytes.to_string()),
            ("--spin-us", self.spin.as_micros().to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
}

/// A delayed link between two namespaces; torn down on drop.
pub struct DelayLink {
    // Field order is drop order: the line stops before D goes.
    line: Option<Child>,
    middle: Option<Netns>,
    backend: Backend,
    /// The link's end in A and in B.
    pub a: Iface,
    pub b: Iface,
}

impl DelayLink {
    /// Joins `a` and `b` with a link as `spec` says (see the module docs).
    /// With the userspace backend this returns once `hr-delayline` forwards.
    pub fn create(lab: &Lab, a: &Netns, b: &Netns, spec: &LinkSpec) -> Result<DelayLink> {
        spec.impairment
            .check()
            .map_err(|e| Error::Config(format!("WAN link: {e}")))?;
        let backend = match spec.backend {
            Backend::Auto if netem_available(lab)? => Backend::Netem,
            Backend::Auto => Backend::Userspace,
            chosen => chosen,
        };
        match backend {
            Backend::Netem => Self::with_netem(a, b, spec),
            _ => Self::with_line(lab, a, b, spec),
        }
    }

    fn with_netem(a: &Netns, b: &Netns, spec: &LinkSpec) -> Result<DelayLink> {
        let link = veth(a, &spec.a_iface, b, &spec.b_iface)?;
        for (ns, iface) in [(a, &spec.a_iface), (b, &spec.b_iface)] {
            let args = netem_args(iface, &spec.impairment);
            ns.run("tc", &args.iter().map(String::as_str).collect::<Vec<_>>())?;
        }
        Ok(DelayLink {
            line: None,
            middle: None,
            backend: Backend::Netem,
            a: link.a,
            b: link.b,
        })
    }

    fn with_line(lab: &Lab, a: &Netns, b: &Netns, spec: &LinkSpec) -> Result<DelayLink> {
        let middle = Netns::new(lab, "delay")?;
        middle.set_forwarding(false)?;
        // D's kernel must not add frames of its own (router solicitations,
        // MLD reports) to the link.
        middle.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        middle.sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
        let left = veth(a, &spec.a_iface, &middle, "la")?;
        let right = veth(&middle, "lb", b, &spec.b_iface)?;
        let mut link = DelayLink {
            line: None,
            middle: None,
            backend: Backend::Userspace,
            a: left.a,
            b: right.b,
        };
        // Segmentation offloads would hand the line 64 KB "frames" that no
        // packet socket may send on a 1500-byte link, and checksum offload
        // frames whose TCP/UDP checksum the sender left to the "hardware":
        // forwarded as bytes, the receiver would drop them as corrupt.
        for (ns, iface) in [
            (a, spec.a_iface.as_str()),
            (&middle, "la"),
            (&middle, "lb"),
            (b, spec.b_iface.as_str()),
        ] {
            ns.run(
                "ethtool",
                &[
                    "-K", iface, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
                ],
            )?;
        }
        let binary = delayline_binary()?.to_string_lossy().into_owned();
        let mut args = spec.line_args("la", "lb");
        let program = match spec.rt_priority {
            // chrt execs the line, so the child's PID is the line's.
            Some(priority) => {
                args.splice(0..0, ["-f".to_string(), priority.to_string(), binary]);
                "chrt".to_string()
            }
            None => binary,
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = middle.spawn("hr-delayline", &program, &args)?;
        wait_until(
            "hr-delayline to bind its sockets",
            START_TIMEOUT,
            Duration::from_millis(10),
            || match child.exited_error() {
                Some(e) => Err(e),
                None => Ok(child.log().contains(READY_LINE)),
            },
        )?;
        link.line = Some(child);
        link.middle = Some(middle);
        Ok(link)
    }

    /// The backend carrying the link.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The delay namespace (userspace backend).
    pub fn middle(&self) -> Option<&Netns> {
        self.middle.as_ref()
    }

    /// The line's PID (userspace backend).
    pub fn pid(&self) -> Option<u32> {
        self.line.as_ref().map(Child::pid)
    }

    /// Stops the line and returns the counters it printed on exit
    /// (`{"a_to_b": {...}, "b_to_a": {...}}`); `None` with netem. The link
    /// carries nothing afterwards.
    pub fn stop(&mut self) -> Result<Option<serde_json::Value>> {
        let Some(child) = self.line.as_mut() else {
            return Ok(None);
        };
        child.stop()?;
        let log = child.log();
        let report = log
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| Error::parse("hr-delayline's exit report", "no JSON line in its log"))?;
        serde_json::from_str(report)
            .map(Some)
            .map_err(|e| Error::parse("hr-delayline's exit report", e))
    }
}

/// `tc qdisc add dev <iface> root netem ...` arguments.
fn netem_args(iface: &str, imp: &Impairment) -> Vec<String> {
    let us = |d: Duration| format!("{}us", d.as_micros());
    let mut args: Vec<String> = ["qdisc", "add", "dev", iface, "root", "netem", "limit"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(NETEM_LIMIT.to_string());
    args.extend(["delay".into(), us(imp.delay)]);
    if !imp.jitter.is_zero() {
        args.push(us(imp.jitter));
    }
    if imp.loss > 0.0 {
        args.extend(["loss".into(), format!("{}%", imp.loss * 100.0)]);
    }
    args
}

/// Whether this kernel has netem: tried once per process, in a namespace
/// of its own, on its loopback.
pub fn netem_available(lab: &Lab) -> Result<bool> {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    if let Some(known) = AVAILABLE.get() {
        return Ok(*known);
    }
    let probe = Netns::new(lab, "netem-probe")?;
    let ok = probe
        .exec(
            "tc",
            &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        )?
        .status
        .success();
    Ok(*AVAILABLE.get_or_init(|| ok))
}

/// The `hr-delayline` binary: `$HR_DELAYLINE`, else beside the running
/// executable in the target directory (tests run from `target/<profile>/deps`),
/// else built there with cargo.
pub fn delayline_binary() -> Result<PathBuf> {
    const NAME: &str = "hr-delayline";
    if let Some(path) = std::env::var_os("HR_DELAYLINE") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| Error::Config("the running executable has no directory".into()))?;
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let path = dir.join(NAME);
    if path.exists() {
        return Ok(path);
    }
    let target = dir
        .parent()
        .ok_or_else(|| Error::Config(format!("{} has no parent", dir.display())))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "hostroute-lab", "--bin", NAME])
        .arg("--manifest-path")
        .arg(crate::bench::workspace().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target);
    if dir.ends_with("release") {
        build.arg("--release");
    }
    run_command(&mut build)?;
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Config(format!(
            "{} not found after building it",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_arguments_carry_the_spec() {
        let mut spec = LinkSpec::new(Duration::from_millis(20));
        spec.impairment.jitter = Duration::from_micros(500);
        spec.impairment.loss = 0.25;
        let args = spec.line_args("la", "lb").join(" ");
        assert_eq!(
            args,
            "--a la --b lb --delay-ms 20 --jitter-ms 0.5 --loss 0.25 --seed 1 \
             --queue-bytes 16777216 --spin-us 0"
        );
    }

    #[test]
    fn netem_arguments_carry_the_spec() {
        let mut imp = LinkSpec::new(Duration::from_millis(20)).impairment;
        assert_eq!(
            netem_args("wan0", &imp).join(" "),
            "qdisc add dev wan0 root netem limit 100000 delay 20000us"
        );
        imp.jitter = Duration::from_millis(2);
        imp.loss = 0.01;
        assert_eq!(
            netem_args("wan0", &imp).join(" "),
            "qdisc add dev wan0 root netem limit 100000 delay 20000us 2000us loss 1%"
        );
    }
}
