//! The speaker (`hr-speakerd`) against a peer that misbehaves on purpose:
//! the scripted raw peer `hr-rawpeer`, and ExaBGP sending raw attributes.
//! Every case checks what RFC 4271 and RFC 7606 prescribe on the wire
//! (the NOTIFICATION, or none) and in the speaker's RIB (through its
//! control socket), and that the speaker never panics and takes a correct
//! session afterwards.
//!
//! ```text
//!   dut: v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  peer: v1 192.0.2.2/24 2001:db8::2/64
//!        hr-speakerd AS 65001, listening on :179           + 192.0.2.10 .. 192.0.2.59 /24
//!        one passive neighbor (AS 65002) per peer address  hr-rawpeer / ExaBGP, AS 65002
//! ```

mod adversary;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use adversary::cases::{
    connect, correct_session, discard_cases, has_community, reset_cases, session_cases,
    withdraw_cases,
};
use adversary::{DUT, RawSession, Topo, peer_ip};
use anyhow::{Context, ensure};
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use lab::Lab;
use lab::peers::{Exabgp, Neighbor, Peer, PeerConfig, Route};
use serde_json::{Value, json};

#[test]
fn session_errors_get_their_notification_and_the_speaker_carries_on() {
    if !netns_available("session_errors_get_their_notification_and_the_speaker_carries_on") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("adv-session", |lab| -> anyhow::Result<()> {
        let cases = session_cases();
        let addrs: Vec<Ipv4Addr> = (0..cases.len() as u8).map(peer_ip).collect();
        let mut topo = Topo::start(lab, &addrs, &[])?;
        names = topo.pair.names();
        pids.push(topo.speaker.pid());
        for (c, &ip) in cases.iter().zip(&addrs) {
            let script = format!(
                "{}\n{}\n{}\n",
                connect(ip, 5000),
                c.body(ip),
                c.expectation()
            );
            topo.script(c.name, &script)
                .with_context(|| format!("case {}", c.name))?;
            topo.check_alive()
                .with_context(|| format!("after {}", c.name))?;
        }
        // Each neighbor takes a correct session again, once its IdleHold
        // damping (1 s after one failure) is over.
        for (c, &ip) in cases.iter().zip(&addrs) {
            topo.script(&format!("{}-again", c.name), &correct_session(ip))
                .with_context(|| format!("re-accept after {}", c.name))?;
        }
        topo.check_alive()
    })
    .unwrap();
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!("session errors: {:?}", started.elapsed());
}

/// Sends one UPDATE on `raw` and checks that no NOTIFICATION follows.
fn send_quietly(raw: &mut RawSession, update: &str) -> anyhow::Result<()> {
    raw.step(&format!("send-update {update}"))?;
    raw.step("expect-quiet 200")?;
    Ok(())
}

fn verdict(type_code: u8, action: &str) -> (u8, String) {
    (type_code, action.to_string())
}

#[test]
fn rfc7606_verdicts_on_an_established_session() {
    if !netns_available("rfc7606_verdicts_on_an_established_session") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("adv-7606", |lab| -> anyhow::Result<()> {
        let (us, exporter) = (peer_ip(0), peer_ip(1));
        let mut topo = Topo::start(lab, &[us, exporter], &[exporter])?;
        names = topo.pair.names();
        pids.push(topo.speaker.pid());
        let mut raw = RawSession::start(&topo.pair.b, lab, "session")?;
        pids.push(raw.pid());
        raw.steps(&format!("{}\nwait-established id={us}", connect(us, 5000)))?;
        let mut rx = RawSession::start(&topo.pair.b, lab, "exporter")?;
        pids.push(rx.pid());
        rx.steps(&format!(
            "{}\nwait-established id={exporter}",
            connect(exporter, 5000)
        ))?;

        let p = "198.51.100.7/32";
        let v6 = "2001:db8:7::7/128";
        let restore = |raw: &mut RawSession, prefix: &str, n: u16| -> anyhow::Result<()> {
            send_quietly(raw, &format!("announce={prefix} med=5 community=65002:{n}"))?;
            let what = format!("with community 65002:{n}");
            topo.wait_route(prefix, &what, |a| has_community(a, 65002, n))?;
            Ok(())
        };
        restore(&mut raw, p, 1)?;
        restore(&mut raw, v6, 1)?;

        // Treat-as-withdraw (RFC 7606): the route goes, the session stays,
        // the next valid UPDATE is taken.
        let mut expected = Vec::new();
        for (n, (what, bad, code)) in withdraw_cases().into_iter().enumerate() {
            send_quietly(&mut raw, &format!("announce={p} {bad}")).context(what)?;
            topo.wait_gone(p).context(what)?;
            restore(&mut raw, p, 10 + n as u16).with_context(|| format!("after {what}"))?;
            expected.push(verdict(code, "TreatAsWithdraw"));
        }
        // NLRI without any attribute: all three well-known ones missing.
        raw.steps("send-msg 2 0000_0000_20c6336407\nexpect-quiet 200")?;
        topo.wait_gone(p).context("NLRI without attributes")?;
        expected.extend([1, 2, 3].map(|code| verdict(code, "TreatAsWithdraw")));
        restore(&mut raw, p, 3)?;
        // The same for an IPv6 route in MP_REACH_NLRI.
        send_quietly(&mut raw, &format!("announce={v6} omit=1 raw=40:01:05"))?;
        topo.wait_gone(v6).context("IPv6 with ORIGIN 5")?;
        restore(&mut raw, v6, 2)?;
        expected.push(verdict(1, "TreatAsWithdraw"));

        // A semantically incorrect next hop (RFC 4271 section 6.3): the
        // route is ignored (withdrawn), logged, without a NOTIFICATION.
        let martians = [
            (p, "next-hop=192.0.2.1", "the speaker's own address"),
            (p, "next-hop=0.0.0.0", "0.0.0.0"),
            (p, "next-hop=224.0.0.5", "multicast"),
            (p, "next-hop=127.0.0.1", "loopback"),
            (p, "next-hop=255.255.255.255", "broadcast"),
            (v6, "next-hop6=::", "::"),
            (v6, "next-hop6=ff02::5", "IPv6 multicast"),
            (v6, "next-hop6=::1", "IPv6 loopback"),
        ];
        for (n, (prefix, next_hop, what)) in martians.iter().enumerate() {
            let what = format!("next hop {what}");
            send_quietly(&mut raw, &format!("announce={prefix} {next_hop}"))
                .context(what.clone())?;
            topo.wait_gone(prefix).context(what.clone())?;
            restore(&mut raw, prefix, 40 + n as u16).context(what)?;
        }

        // Attribute discard: the route stays, without the broken attribute.
        let full = "aggregator=65002:192.0.2.10 atomic-aggregate";
        send_quietly(&mut raw, &format!("announce={p} {full} community=65002:20"))?;
        topo.wait_route(p, "with AGGREGATOR", |a| {
            has_community(a, 65002, 20) && !a["aggregator"].is_null()
        })?;
        for (n, d) in discard_cases().iter().enumerate() {
            let tag = 21 + n as u16;
            let update = format!("announce={p} community=65002:{tag} {}", d.bad);
            send_quietly(&mut raw, &update).context(d.what)?;
            let a = topo
                .wait_route(p, &format!("updated by {}", d.what), |a| {
                    has_community(a, 65002, tag)
                })
                .context(d.what)?;
            let path = &a["as_path"]["segments"][0]["asns"];
            ensure!(*path == json!([65002]) && (d.kept)(&a), "{}: {a}", d.what);
            expected.push(verdict(d.type_code, "AttributeDiscard"));
        }

        // An unknown optional transitive attribute is kept and passed on
        // with the Partial bit, an unknown non-transitive one dropped
        // (RFC 4271 sections 5 and 9.1.4).
        let unknowns = "raw=c0:63:deadbeef raw=80:64:abcd";
        send_quietly(
            &mut raw,
            &format!("announce={p} community=65002:30 {unknowns}"),
        )?;
        let a = topo.wait_route(p, "with attribute 0x63", |a| has_community(a, 65002, 30))?;
        let unknown =
            json!([{"flags": 0xc0, "type_code": 0x63, "value": [0xde, 0xad, 0xbe, 0xef]}]);
        ensure!(a["unknown"] == unknown, "{a}");
        rx.step(&format!(
            "expect-update announce={p} attr=0x63 flags=0xe0 no-attr=0x64"
        ))
        .context("the second peer gets attribute 0x63 with Partial set, not 0x64")?;

        // A path that fits the 4096 bytes coming in but not going out, with
        // our AS prepended: kept here, withdrawn from the second peer
        // rather than left stale there (RFC 4271 section 9.2).
        rx.step("expect-quiet 300")?;
        let long: Vec<String> = std::iter::once(65002u32)
            .chain((1..1010).map(|i| 4_200_000_000 + i))
            .map(|a| a.to_string())
            .collect();
        send_quietly(
            &mut raw,
            &format!("announce={p} as-path={}", long.join(",")),
        )?;
        topo.wait_route(p, "with 1010 ASes", |a| {
            a["as_path"]["segments"]
                .as_array()
                .is_some_and(|s| s.len() == 4)
        })?;
        rx.step(&format!("expect-update withdraw={p}"))
            .context("a path too long to pass on is withdrawn downstream")?;
        restore(&mut raw, p, 33)?;
        rx.step(&format!("expect-update announce={p}"))?;

        // The same prefix withdrawn and announced in one UPDATE is
        // announced (RFC 4271 section 4.3), in both families.
        for prefix in [p, v6] {
            let both = format!("announce={prefix} withdraw={prefix} community=65002:32");
            send_quietly(&mut raw, &both)?;
            topo.wait_route(prefix, "withdrawn and announced", |a| {
                has_community(a, 65002, 32)
            })?;
        }

        // All of that on one session, each verdict logged (RFC 7606 section 6).
        raw.step("expect-quiet 300")?;
        let peer = topo.peer(us)?;
        ensure!(
            peer["state"] == "Established"
                && peer["flaps"] == 0
                && peer["messages_out"]["notification"] == 0,
            "{peer}"
        );
        ensure!(topo.verdicts(us) == expected, "{:?}", topo.verdicts(us));

        // A second connection from the same peer, while the session is
        // Established and without graceful restart, is the one closed
        // (RFC 4271 section 6.8): 6/7, and the first session stays.
        let mut second = RawSession::start(&topo.pair.b, lab, "second")?;
        pids.push(second.pid());
        second.steps(&format!(
            "connect {DUT} from={us}\nexpect-open\nsend-open id={us}\n\
             expect-notification 6 7\nexpect-closed"
        ))?;
        raw.step("expect-quiet 300")?;
        send_quietly(&mut raw, &format!("announce={p} community=65002:31"))?;
        topo.wait_route(p, "after the collision", |a| has_community(a, 65002, 31))?;
        let peer = topo.peer(us)?;
        ensure!(
            peer["state"] == "Established" && peer["flaps"] == 0,
            "{peer}"
        );
        topo.check_alive()
    })
    .unwrap();
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!("RFC 7606 verdicts: {:?}", started.elapsed());
}

#[test]
fn rfc6793_as4_attributes_on_a_two_octet_session() {
    if !netns_available("rfc6793_as4_attributes_on_a_two_octet_session") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("adv-as4", |lab| -> anyhow::Result<()> {
        let us = peer_ip(0);
        let mut topo = Topo::start(lab, &[us], &[])?;
        names = topo.pair.names();
        pids.push(topo.speaker.pid());
        let mut raw = RawSession::start(&topo.pair.b, lab, "two-octet")?;
        pids.push(raw.pid());
        raw.steps(&format!(
            "{}\nwait-established id={us} caps=two-octet",
            connect(us, 5000)
        ))?;
        let p = "198.51.100.8/32";
        let path = |a: &Value| a["as_path"]["segments"][0]["asns"].clone();
        // AS_PATH 65002 AS_TRANS with AS4_PATH 65002 4200000001: merged
        // (RFC 6793 section 4.2.3).
        let as4 = "as-path=65002,23456 raw=c0:11:02020000fdeafa56ea01";
        send_quietly(&mut raw, &format!("announce={p} {as4} community=65002:1"))?;
        let a = topo.wait_route(p, "merged", |a| has_community(a, 65002, 1))?;
        ensure!(path(&a) == json!([65002, 4_200_000_001u32]), "{a}");
        // A confederation segment in AS4_PATH: that segment is dropped
        // (RFC 6793 section 6) and the rest kept, here nothing, so AS_PATH
        // stands alone; no verdict is reported for it.
        let confed = "as-path=65002,23456 raw=c0:11:03010000fdea";
        send_quietly(
            &mut raw,
            &format!("announce={p} {confed} community=65002:2"),
        )?;
        let a = topo.wait_route(p, "AS4_PATH dropped", |a| has_community(a, 65002, 2))?;
        ensure!(path(&a) == json!([65002, 23456]), "{a}");
        // An 8-byte AGGREGATOR is 4-octet, malformed here (RFC 7606
        // section 7.7): discarded.
        let aggregator = "raw=c0:07:0000fdeac000020a";
        send_quietly(
            &mut raw,
            &format!("announce={p} {aggregator} community=65002:3"),
        )?;
        let a = topo.wait_route(p, "AGGREGATOR dropped", |a| has_community(a, 65002, 3))?;
        ensure!(a["aggregator"].is_null(), "{a}");
        // A 7-byte AS4_AGGREGATOR: discarded, the AGGREGATOR stays as sent.
        let as4_aggregator = "aggregator=23456:192.0.2.10 raw=c0:12:fa56ea01c00002";
        send_quietly(
            &mut raw,
            &format!("announce={p} {as4_aggregator} community=65002:4"),
        )?;
        let a = topo.wait_route(p, "AS4_AGGREGATOR dropped", |a| has_community(a, 65002, 4))?;
        ensure!(a["aggregator"]["asn"] == 23456, "{a}");

        raw.step("expect-quiet 300")?;
        let expected = vec![
            verdict(7, "AttributeDiscard"),
            verdict(18, "AttributeDiscard"),
        ];
        ensure!(topo.verdicts(us) == expected, "{:?}", topo.verdicts(us));
        let peer = topo.peer(us)?;
        ensure!(
            peer["state"] == "Established" && peer["flaps"] == 0,
            "{peer}"
        );
        topo.check_alive()
    })
    .unwrap();
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!("RFC 6793 on a two-octet session: {:?}", started.elapsed());
}

#[test]
fn rfc7606_session_resets_send_their_notification() {
    if !netns_available("rfc7606_session_resets_send_their_notification") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("adv-reset", |lab| -> anyhow::Result<()> {
        let cases = reset_cases()?;
        let addrs: Vec<Ipv4Addr> = (0..cases.len() as u8).map(peer_ip).collect();
        let mut topo = Topo::start(lab, &addrs, &[])?;
        names = topo.pair.names();
        pids.push(topo.speaker.pid());
        let v6 = "2001:db8:7::30/128";
        for (i, (c, &ip)) in cases.iter().zip(&addrs).enumerate() {
            let good = format!("198.51.100.{}/32", 40 + i);
            let mut raw = RawSession::start(&topo.pair.b, lab, &format!("reset-{i}"))?;
            pids.push(raw.pid());
            raw.steps(&format!("{}\nwait-established id={ip}", connect(ip, 5000)))?;
            raw.step(&format!("send-update announce={good} announce={v6}"))?;
            topo.wait_route(&good, "announced", |_| true)?;
            topo.wait_route(v6, "announced", |_| true)?;
            raw.steps(&c.body(ip))?;
            raw.steps(&c.expectation()).context(c.name)?;
            // A reset session's routes go with it.
            topo.wait_gone(&good).context(c.name)?;
            topo.wait_gone(v6).context(c.name)?;
            topo.check_alive().context(c.name)?;
            raw.steps(&correct_session(ip))
                .with_context(|| format!("re-accept after {}", c.name))?;
        }
        topo.check_alive()
    })
    .unwrap();
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!("RFC 7606 resets: {:?}", started.elapsed());
}

#[test]
fn exabgp_raw_attributes_get_the_same_verdicts() {
    if !netns_available("exabgp_raw_attributes_get_the_same_verdicts") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("adv-exabgp", |lab| -> anyhow::Result<()> {
        let mut topo = Topo::start(lab, &[], &[])?;
        names = topo.pair.names();
        pids.push(topo.speaker.pid());
        let exa_ip = Ipv4Addr::new(192, 0, 2, 2);
        let neighbor = Neighbor::new(Pair::A4, 65001)
            .local_address(IpAddr::V4(exa_ip))
            .timers(30, 10);
        let mut exa = Exabgp::start(
            &topo.pair.b,
            PeerConfig::new(exa_ip, 65002).neighbor(neighbor),
        )?;
        pids.extend(exa.pids());
        exa.wait_established(Pair::A4, Duration::from_secs(15))?;
        let route = |p: &str| -> anyhow::Result<Route> { Ok(Route::new(p.parse()?)) };

        // A valid route, then the same with a 3-byte MED: treat-as-withdraw.
        exa.announce(route("198.51.100.50/32")?)?;
        topo.wait_route("198.51.100.50/32", "from ExaBGP", |_| true)?;
        exa.announce(route("198.51.100.50/32")?.raw_attribute(0x04, 0x80, &[0, 0, 5]))?;
        topo.wait_gone("198.51.100.50/32")
            .context("MED of 3 bytes from ExaBGP")?;
        // A 7-byte AGGREGATOR: attribute discard.
        let aggregator = [0, 0, 0xfd, 0xea, 192, 0, 2];
        exa.announce(route("198.51.100.51/32")?.raw_attribute(0x07, 0xc0, &aggregator))?;
        let a = topo.wait_route("198.51.100.51/32", "from ExaBGP", |_| true)?;
        ensure!(a["aggregator"].is_null(), "{a}");
        // An unknown optional transitive attribute: kept.
        exa.announce(route("198.51.100.52/32")?.raw_attribute(0x63, 0xc0, &[0xde, 0xad]))?;
        let a = topo.wait_route("198.51.100.52/32", "from ExaBGP", |_| true)?;
        ensure!(a["unknown"][0]["type_code"] == 0x63, "{a}");
        // A 3-byte COMMUNITIES after a valid announcement: withdrawn again.
        exa.announce(route("198.51.100.50/32")?)?;
        topo.wait_route("198.51.100.50/32", "back", |_| true)?;
        exa.announce(route("198.51.100.50/32")?.raw_attribute(0x08, 0xc0, &[0xfd, 0xe8, 1]))?;
        topo.wait_gone("198.51.100.50/32")
            .context("COMMUNITIES of 3 bytes from ExaBGP")?;

        // The speaker judged ExaBGP's bytes itself (not an ExaBGP withdraw),
        // and the session never went down.
        let expected = vec![
            verdict(4, "TreatAsWithdraw"),
            verdict(7, "AttributeDiscard"),
            verdict(8, "TreatAsWithdraw"),
        ];
        ensure!(
            topo.verdicts(exa_ip) == expected,
            "{:?}",
            topo.verdicts(exa_ip)
        );
        let peer = topo.peer(exa_ip)?;
        ensure!(
            peer["state"] == "Established" && peer["flaps"] == 0,
            "{peer}"
        );
        let notified = exa.messages()?.iter().any(|m| m["type"] == "notification");
        ensure!(!notified, "ExaBGP got a NOTIFICATION");
        topo.check_alive()
    })
    .unwrap();
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!("ExaBGP raw attributes: {:?}", started.elapsed());
}
