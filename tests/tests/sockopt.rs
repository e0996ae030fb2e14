//! TCP-MD5 (RFC 2385) and GTSM (RFC 5082) from `speaker::bgp::sockopt` on
//! real sockets between two namespaces, through the `hr-sockprobe` helper
//! (a listener or client that sets the options, run with `ip netns exec`).
//!
//! ```text
//!   a: listener  v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  b: clients  v1 192.0.2.2/24 2001:db8::2/64
//! ```
//!
//! A client that must fail gets a 1 s connect timeout: a dropped SYN is
//! retransmitted after 1 s, so it cannot complete before that.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use lab::{Child, Lab, Netns, wait_until};

const PROBE: &str = env!("CARGO_BIN_EXE_hr-sockprobe");

/// Starts a listener in `netns` and waits until it listens.
fn listen(netns: &Netns, name: &str, addr: SocketAddr, options: &[&str]) -> anyhow::Result<Child> {
    let addr = addr.to_string();
    let mut args = vec!["listen", addr.as_str()];
    args.extend_from_slice(options);
    let child = netns.spawn(name, PROBE, &args)?;
    wait_until(
        &format!("{name} to listen"),
        Duration::from_secs(5),
        Duration::from_millis(20),
        || Ok(child.log().contains("listening")),
    )?;
    Ok(child)
}

/// Connects from `netns`; `Ok(true)` if the handshake completed.
fn connects(netns: &Netns, to: SocketAddr, options: &[&str]) -> anyhow::Result<bool> {
    let to = to.to_string();
    let mut args = vec!["connect", to.as_str(), "timeout", "1000"];
    args.extend_from_slice(options);
    let out = netns.exec(PROBE, &args)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        stdout.starts_with("connected") || stdout.starts_with("failed"),
        "hr-sockprobe {args:?}: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.status.success())
}

fn accepted(listener: &Child) -> usize {
    listener
        .log()
        .lines()
        .filter(|l| l.starts_with("accepted"))
        .count()
}

#[test]
fn tcp_md5_needs_the_same_key_on_both_ends() {
    if !netns_available("tcp_md5_needs_the_same_key_on_both_ends") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    Lab::run("sockopt-md5", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "md5-listen", "md5-client")?;
        names = pair.names();
        for (server, client) in [(Pair::A4, Pair::B4), (Pair::A6, Pair::B6)] {
            let to = SocketAddr::new(server, 179);
            let server_text = server.to_string();
            let client_text = client.to_string();
            let listener = listen(
                &pair.a,
                "md5-listener",
                to,
                &["md5", &client_text, "s3cret"],
            )?;
            ensure!(
                connects(&pair.b, to, &["md5", &server_text, "s3cret"])?,
                "{client} with the right key was refused"
            );
            ensure!(
                !connects(&pair.b, to, &["md5", &server_text, "wrong"])?,
                "{client} with a wrong key got through"
            );
            ensure!(
                !connects(&pair.b, to, &[])?,
                "{client} without a key got through"
            );
            ensure!(
                accepted(&listener) == 1,
                "listener log:\n{}",
                listener.log()
            );
        }

        // A key for a whole prefix (TCP_MD5SIG_EXT).
        let to = SocketAddr::new(Pair::A4, 1179);
        let listener = listen(
            &pair.a,
            "md5-prefix-listener",
            to,
            &["md5net", "192.0.2.0/24", "k"],
        )?;
        ensure!(
            connects(&pair.b, to, &["md5", &Pair::A4.to_string(), "k"])?,
            "prefix key refused"
        );
        ensure!(
            !connects(&pair.b, to, &[])?,
            "no key accepted by a prefix key"
        );
        ensure!(
            accepted(&listener) == 1,
            "listener log:\n{}",
            listener.log()
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
    eprintln!(
        "tcp_md5_needs_the_same_key_on_both_ends: {:?}",
        started.elapsed()
    );
}

#[test]
fn gtsm_listener_drops_packets_below_ttl_255() {
    if !netns_available("gtsm_listener_drops_packets_below_ttl_255") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    Lab::run("sockopt-gtsm", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "gtsm-listen", "gtsm-client")?;
        names = pair.names();
        let pairs: [(IpAddr, IpAddr); 2] = [(Pair::A4, Pair::B4), (Pair::A6, Pair::B6)];
        for (server, client) in pairs {
            let to = SocketAddr::new(server, 179);
            let listener =
                listen(&pair.a, "gtsm-listener", to, &["gtsm", "1"]).context("GTSM listener")?;
            // The client also binds to its interface and address, as a
            // session with an update source would.
            let from = client.to_string();
            ensure!(
                connects(&pair.b, to, &["gtsm", "1", "dev", "v1", "from", &from])?,
                "{client} sending TTL 255 was refused"
            );
            ensure!(
                !connects(&pair.b, to, &["ttl", "64"])?,
                "{client} sending TTL 64 got through"
            );
            ensure!(
                accepted(&listener) == 1,
                "listener log:\n{}",
                listener.log()
            );
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
    eprintln!(
        "gtsm_listener_drops_packets_below_ttl_255: {:?}",
        started.elapsed()
    );
}
