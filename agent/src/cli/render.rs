//! Views as text for people. Pure: data in, text out, so every view has a
//! golden test.

use std::fmt::Write as _;

use super::table::{Align, Table};
use crate::control::api::{
    BfdRow, FibView, HookView, MovesView, PeerRow, Reply, RouteRow, StatusView, VmRow,
};

use Align::{Left as L, Right as R};

/// A reply as text.
pub fn reply(reply: &Reply) -> String {
    match reply {
        Reply::Status(v) => status(v),
        Reply::Peers(v) => peers(v),
        Reply::Routes(v) => routes(v),
        Reply::Vms(v) => vms(v),
        Reply::Bfd(v) => bfd(v),
        Reply::Fib(v) => fib(v),
        Reply::Moves(v) => moves(v),
        Reply::Hook(v) => hook(v),
    }
}

pub fn status(s: &StatusView) -> String {
    let mut t = Table::new(&[("FIELD", L), ("VALUE", L)]);
    let rows = [
        ("version", s.version.clone()),
        ("router id", s.router_id.to_string()),
        ("AS", s.asn.to_string()),
        ("pid", s.pid.to_string()),
        ("uptime", age(s.uptime_secs)),
        (
            "peers",
            format!("{} of {} established", s.peers_up, s.peers_total),
        ),
        ("prefixes", s.routes.to_string()),
        ("local VMs", s.local_vms.to_string()),
    ];
    for (k, v) in rows {
        t.row(vec![k.into(), v]);
    }
    // The field names say enough: no header line.
    t.render()
        .lines()
        .skip(1)
        .fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
}

pub fn peers(rows: &[PeerRow]) -> String {
    if rows.is_empty() {
        return "no BGP neighbours configured\n".into();
    }
    let mut t = Table::new(&[
        ("NEIGHBOR", L),
        ("AS", R),
        ("STATE", L),
        ("UP", R),
        ("RCVD", R),
        ("SENT", R),
        ("BFD", L),
        ("MSG-IN", R),
        ("MSG-OUT", R),
        ("FLAPS", R),
        ("LAST-ERROR", L),
    ]);
    for p in rows {
        t.row(vec![
            p.neighbor.to_string(),
            p.remote_as.to_string(),
            p.state.clone(),
            p.uptime_secs.map_or_else(dash, age),
            (u64::from(p.prefixes_ipv4) + u64::from(p.prefixes_ipv6)).to_string(),
            p.prefixes_sent.map_or_else(dash, |n| n.to_string()),
            p.bfd.clone().unwrap_or_else(dash),
            p.messages_in.to_string(),
            p.messages_out.to_string(),
            p.flaps.to_string(),
            p.last_error.clone().unwrap_or_default(),
        ]);
    }
    t.render()
}

pub fn routes(rows: &[RouteRow]) -> String {
    if rows.is_empty() {
        return "no routes\n".into();
    }
    let mut t = Table::new(&[
        ("", L),
        ("PREFIX", L),
        ("SOURCE", L),
        ("NEXT-HOP", L),
        ("SEQ", R),
        ("ORIGIN", L),
        ("AGE", R),
        ("AS-PATH", L),
        ("LPREF", R),
        ("MED", R),
        ("NOTE", L),
    ]);
    let mut paths = 0;
    for route in rows {
        for (i, p) in route.paths.iter().enumerate() {
            paths += 1;
            let mut notes = Vec::new();
            if p.static_flag {
                notes.push("static".to_string());
            }
            if p.stale {
                notes.push("stale".to_string());
            }
            if let Some(why) = &p.lost_on {
                notes.push(format!("lost on {why}"));
            }
            t.row(vec![
                if p.best { "*" } else { "" }.into(),
                if i == 0 {
                    route.prefix.to_string()
                } else {
                    String::new()
                },
                p.source.clone(),
                p.next_hop.clone(),
                p.sequence.map_or_else(dash, |s| s.to_string()),
                p.origin.clone(),
                p.age_secs.map_or_else(dash, age),
                if p.as_path.is_empty() {
                    dash()
                } else {
                    p.as_path.clone()
                },
                p.local_pref.map_or_else(dash, |n| n.to_string()),
                p.med.map_or_else(dash, |n| n.to_string()),
                notes.join(", "),
            ]);
        }
    }
    let mut out = t.render();
    let _ = writeln!(out, "{} prefixes, {paths} paths; * best path", rows.len());
    out
}

pub fn vms(rows: &[VmRow]) -> String {
    if rows.is_empty() {
        return "no local VMs\n".into();
    }
    let mut t = Table::new(&[
        ("VM", L),
        ("INTERFACE", L),
        ("IFINDEX", R),
        ("MAC", L),
        ("STATE", L),
        ("LINK", L),
        ("ADDRESS", L),
        ("SEQ", R),
        ("FLAGS", L),
    ]);
    for vm in rows {
        let first = vec![
            vm.vm.clone().unwrap_or_else(dash),
            vm.interface.clone(),
            vm.ifindex.to_string(),
            vm.mac.map_or_else(dash, |m| m.to_string()),
            vm.state.to_string(),
            if vm.up { "up" } else { "down" }.into(),
        ];
        if vm.addresses.is_empty() {
            let mut row = first;
            row.extend([dash(), dash(), String::new()]);
            t.row(row);
            continue;
        }
        for (i, a) in vm.addresses.iter().enumerate() {
            let mut row = if i == 0 {
                first.clone()
            } else {
                vec![String::new(); first.len()]
            };
            let flags: Vec<&str> = [
                (a.advertised, "advertised"),
                (a.static_flag, "static"),
                (a.frozen, "frozen"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            row.extend([
                a.address.to_string(),
                a.sequence.map_or_else(dash, |s| s.to_string()),
                flags.join(","),
            ]);
            t.row(row);
        }
    }
    t.render()
}

pub fn bfd(rows: &[BfdRow]) -> String {
    if rows.is_empty() {
        return "no BFD sessions\n".into();
    }
    let mut t = Table::new(&[
        ("PEER", L),
        ("INTERFACE", L),
        ("STATE", L),
        ("REMOTE", L),
        ("LDISC", R),
        ("RDISC", R),
        ("TX", R),
        ("RX", R),
        ("DETECT", R),
        ("DIAG", L),
        ("UPS", R),
        ("DOWNS", R),
        ("SINCE", R),
    ]);
    for s in rows {
        let interface = match (&s.interface, s.multihop) {
            (Some(i), _) => i.clone(),
            (None, true) => "multihop".into(),
            (None, false) => dash(),
        };
        t.row(vec![
            s.peer.to_string(),
            interface,
            s.state.clone(),
            s.remote_state.clone(),
            s.local_discriminator.to_string(),
            s.remote_discriminator.map_or_else(dash, |d| d.to_string()),
            duration_us(s.tx_interval_us),
            duration_us(s.rx_interval_us),
            s.detection_time_us.map_or_else(dash, duration_us),
            s.local_diag.clone(),
            s.up_transitions.to_string(),
            s.down_transitions.to_string(),
            s.since_transition_ms.map_or_else(dash, |ms| age(ms / 1000)),
        ]);
    }
    t.render()
}

pub fn fib(v: &FibView) -> String {
    let mut out = format!(
        "protocol {}, table {}, metric {}",
        v.protocol, v.table, v.metric
    );
    if let Some(ms) = v.grace_remaining_ms {
        let _ = write!(
            out,
            "; graceful-restart window: {} left",
            duration_us(ms.saturating_mul(1000))
        );
    }
    out.push('\n');
    if v.rows.is_empty() {
        out.push_str("no routes of ours, none wanted\n");
    } else {
        let mut t = Table::new(&[
            ("", L),
            ("PREFIX", L),
            ("RIB", L),
            ("KERNEL", L),
            ("STATUS", L),
        ]);
        for r in &v.rows {
            t.row(vec![
                if r.status.is_drift() { "!" } else { "" }.into(),
                r.prefix.to_string(),
                r.rib.clone().unwrap_or_else(dash),
                r.kernel.clone().unwrap_or_else(dash),
                r.status.to_string(),
            ]);
        }
        out.push_str(&t.render());
    }
    if v.drift == 0 {
        out.push_str("no drift: the kernel matches the RIB\n");
    } else {
        let _ = writeln!(
            out,
            "DRIFT: {} of {} routes differ between the RIB and the kernel (marked !)",
            v.drift,
            v.rows.len()
        );
    }
    let c = &v.counters;
    let _ = writeln!(
        out,
        "installed {}, replaced {}, deleted {}, repaired {}, resyncs {}, overruns {}, \
         interrupted dumps {}, unresolved {}, failures {}",
        c.installed,
        c.replaced,
        c.deleted,
        c.repaired,
        c.resyncs,
        c.overruns,
        c.dumps_interrupted,
        c.unresolved,
        c.failures
    );
    if let Some(last) = &c.last_failure {
        let _ = writeln!(out, "last failure: {last}");
    }
    out
}

pub fn moves(v: &MovesView) -> String {
    let mut out = String::new();
    if v.moves.is_empty() {
        out.push_str("no moves\n");
    } else {
        let mut t = Table::new(&[
            ("TIME (UTC)", L),
            ("PREFIX", L),
            ("FROM", L),
            ("TO", L),
            ("SEQ", R),
            ("DETECT-TO-ADV", R),
        ]);
        for m in &v.moves {
            t.row(vec![
                utc(m.at_unix_ms),
                m.prefix.to_string(),
                m.from.clone(),
                m.to.clone(),
                m.sequence.to_string(),
                m.detection_to_advertise_us
                    .map_or_else(dash, |us| format!("{us}µs")),
            ]);
        }
        out.push_str(&t.render());
    }
    if !v.frozen.is_empty() {
        out.push_str("\nfrozen (moving too often, moves damped):\n");
        let mut t = Table::new(&[
            ("PREFIX", L),
            ("MOVES", R),
            ("WINDOW", R),
            ("SINCE (UTC)", L),
        ]);
        for f in &v.frozen {
            t.row(vec![
                f.prefix.to_string(),
                f.moves.to_string(),
                age(f.window_secs),
                utc(f.since_unix_ms),
            ]);
        }
        out.push_str(&t.render());
    }
    out
}

pub fn hook(v: &HookView) -> String {
    format!("{} on {}: {}\n", v.vm, v.interface, v.message)
}

fn dash() -> String {
    "-".into()
}

/// An age for people: `45s`, `3m07s`, `1h02m`, `2d03h`.
pub fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// A duration in microseconds for people: `850µs`, `1.25ms`, `300ms`,
/// `1.5s`; exact (no rounding).
pub fn duration_us(us: u64) -> String {
    let (unit_us, unit) = match us {
        0..1_000 => return format!("{us}µs"),
        1_000..1_000_000 => (1_000, "ms"),
        _ => (1_000_000, "s"),
    };
    let whole = us / unit_us;
    let frac = us % unit_us;
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let digits = if unit_us == 1_000 { 3 } else { 6 };
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}{unit}", frac.trim_end_matches('0'))
}

/// Milliseconds since the Unix epoch as `2026-11-22 03:14:29.123` (UTC).
pub fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let (y, m, d) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(0),
        u32::try_from(d).unwrap_or(0),
    )
}
