//! The kernel FIB service against a real kernel, inside namespaces.
//!
//! ```text
//!   dut (FibService, proto 200)                        gw
//!     v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  v1 192.0.2.2/24 2001:db8::2/64
//!     host routes 198.18.x.y/32 via 192.0.2.2 / .3,
//!     2001:db8:100::/128 via fe80::(v1) dev v0,
//!     198.51.100.x/32 via inet6 fe80::(v1) dev v0 (RFC 8950),
//!     10.1.1.5/32 and 2001:db8:200::5/128 dev v0 (local: v0 plays a VM's tap)
//! ```
//!
//! The service runs on a thread that has `setns`-ed into the dut namespace
//! before building its tokio runtime and netlink sockets (sockets belong to
//! the namespace they are created in), so nothing here touches the root
//! namespace's routes. Each thread checks that it really left the root
//! namespace before opening a socket.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::fib::kernel::AckMode;
use agent::fib::{
    Delta, EntryState, FibConfig, FibHandle, FibService, Retention, Route, RouteKind, RouteParams,
    StaticResolver,
};
use anyhow::{Context, ensure};
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::{Lab, Netns, wait_until};
use speaker::rib::{Best, NextHop, PathAttrs, RouteChange, SourceId};

const PROTO: u8 = 200;
const METRIC: u32 = 50;
const GW_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const GW_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

/// Runs `body` on a new thread inside `netns`, with a tokio runtime built
/// there (its worker threads inherit the namespace).
fn in_netns<T: Send>(
    netns: &Netns,
    body: impl FnOnce(&tokio::runtime::Runtime) -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    let path = format!("/var/run/netns/{}", netns.name());
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let own = "/proc/thread-self/ns/net";
                let before = std::fs::read_link(own).context(own)?;
                let file = std::fs::File::open(&path).with_context(|| path.clone())?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
                let after = std::fs::read_link(own).context(own)?;
                ensure!(
                    before != after,
                    "still in the test's namespace: refusing to run"
                );
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                body(&runtime)
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the namespace thread panicked"))?
    })
}

fn config(graceful_restart: Duration) -> FibConfig {
    let mut config = FibConfig::with_params(RouteParams {
        protocol: PROTO,
        metric: METRIC,
        ..RouteParams::default()
    });
    config.graceful_restart = graceful_restart;
    config.audit_interval = None;
    config
}

fn host(i: u32) -> IpNet {
    IpNet::from(IpAddr::V4(Ipv4Addr::from(
        u32::from(Ipv4Addr::new(198, 18, 0, 0)) + i,
    )))
}

fn via(params: RouteParams, i: u32, gateway: Ipv4Addr) -> Route {
    params.route(
        host(i),
        RouteKind::Via {
            gateway: IpAddr::V4(gateway),
            ifindex: None,
        },
    )
}

/// One route of ours as `ip -j route show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shown {
    gateway: String,
    dev: String,
    metric: u64,
}

/// Our routes in the namespace by destination, as `ip -j route` sees them.
fn shown(netns: &Netns, family: &str) -> anyhow::Result<BTreeMap<String, Shown>> {
    let proto = PROTO.to_string();
    let out = netns.ip(&[family, "-j", "route", "show", "proto", &proto])?;
    let routes: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    let mut map = BTreeMap::new();
    for r in routes {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let gateway = match (r.get("gateway"), r.get("via")) {
            (Some(g), _) => text(g),
            (None, Some(v)) => text(&v["host"]),
            (None, None) => String::new(),
        };
        map.insert(
            text(&r["dst"]),
            Shown {
                gateway,
                dev: text(&r["dev"]),
                metric: r["metric"].as_u64().unwrap_or(0),
            },
        );
    }
    Ok(map)
}

/// Destination -> gateway of our IPv4 routes.
fn gateways(netns: &Netns) -> anyhow::Result<BTreeMap<String, String>> {
    Ok(shown(netns, "-4")?
        .into_iter()
        .map(|(dst, s)| (dst, s.gateway))
        .collect())
}

fn expect(routes: &[Route]) -> BTreeMap<String, String> {
    routes
        .iter()
        .map(|r| {
            let RouteKind::Via { gateway, .. } = r.kind else {
                panic!("not a via route");
            };
            (r.prefix.addr().to_string(), gateway.to_string())
        })
        .collect()
}

fn set_all(routes: &[Route]) -> Vec<Delta> {
    routes.iter().copied().map(Delta::Set).collect()
}

#[test]
fn fib_installs_replaces_deletes_and_reconciles_on_restart() {
    if !netns_available("fib_installs_replaces_deletes_and_reconciles_on_restart") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("fib-restart", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "dut", "gw")?;
        names = pair.names();
        let dut = &pair.a;
        let params = config(Duration::ZERO).kernel.params;
        let n = 1000;

        // First instance: install 1,000, move half to another gateway,
        // delete 100, stop keeping the routes.
        let mut routes: Vec<Route> = (0..n).map(|i| via(params, i, GW_A)).collect();
        in_netns(dut, |rt| {
            rt.block_on(async {
                let fib = FibService::start(config(Duration::from_secs(1)), []).await?;
                let started = Instant::now();
                fib.apply(set_all(&routes)).await?;
                fib.flush().await?;
                eprintln!("installed {n} routes in {:?}", started.elapsed());
                ensure!(gateways(dut)? == expect(&routes), "after install");
                let shown = shown(dut, "-4")?;
                ensure!(
                    shown
                        .values()
                        .all(|s| s.metric == u64::from(METRIC) && s.dev == "v0")
                );
                ensure!(
                    fib.counters().installed == u64::from(n),
                    "{:?}",
                    fib.counters()
                );

                for r in routes.iter_mut().step_by(2) {
                    *r = r.with_gateway(GW_B);
                }
                fib.apply(set_all(&routes)).await?;
                fib.flush().await?;
                ensure!(gateways(dut)? == expect(&routes), "after replace");
                ensure!(
                    fib.counters().replaced == u64::from(n / 2),
                    "{:?}",
                    fib.counters()
                );

                let removed: Vec<Route> = routes.drain(..100).collect();
                fib.apply(removed.iter().map(|r| Delta::Remove(r.key())).collect())
                    .await?;
                fib.flush().await?;
                ensure!(gateways(dut)? == expect(&routes), "after delete");
                ensure!(fib.counters().deleted == 100, "{:?}", fib.counters());
                let c = fib.counters();
                ensure!(c.failures.is_empty() && c.resyncs == 0, "{c:?}");
                fib.shutdown(Retention::Keep).await?;
                Ok(())
            })
        })?;
        ensure!(gateways(dut)?.len() == 900, "routes kept across the stop");

        // Second instance, desired set differs: 300 right, 300 wrong
        // (on GW_B in the kernel, wanted on GW_A), 100 new; the other 300
        // in the kernel are stale.
        let before = routes.clone();
        let right: Vec<Route> = before
            .iter()
            .filter(|r| gw_of(r) == GW_A)
            .take(300)
            .copied()
            .collect();
        let wrong: Vec<Route> = before
            .iter()
            .filter(|r| gw_of(r) == GW_B)
            .take(300)
            .map(|r| r.with_gateway(GW_A))
            .collect();
        let new: Vec<Route> = (n..n + 100).map(|i| via(params, i, GW_A)).collect();
        let desired: Vec<Route> = right.iter().chain(&wrong).chain(&new).copied().collect();
        let window = Duration::from_secs(3);
        in_netns(dut, |rt| {
            rt.block_on(async {
                let started = Instant::now();
                let fib = FibService::start(config(window), desired.clone()).await?;
                fib.flush().await?;
                let c = fib.counters();
                ensure!(
                    c.installed == 100 && c.replaced == 300 && c.deleted == 0,
                    "{c:?}"
                );
                let mut during = expect(&before);
                during.extend(expect(&desired));
                ensure!(
                    gateways(dut)? == during,
                    "right kept, wrong fixed, new added, stale kept"
                );
                let snap = fib.snapshot().await?;
                let stale = snap
                    .entries
                    .iter()
                    .filter(|e| e.state == EntryState::Stale)
                    .count();
                ensure!(
                    stale == 300 && snap.drift == 0,
                    "stale {stale}, drift {}",
                    snap.drift
                );
                ensure!(snap.grace_remaining_ms.is_some());

                wait_until(
                    "the stale sweep",
                    window * 2,
                    Duration::from_millis(50),
                    || {
                        Ok(
                            gateways(dut).map_err(|e| lab::Error::Config(e.to_string()))?
                                == expect(&desired),
                        )
                    },
                )?;
                let swept_after = started.elapsed();
                ensure!(
                    swept_after >= window,
                    "swept before the window: {swept_after:?}"
                );
                eprintln!("stale routes swept {swept_after:?} after the start (window {window:?})");
                let c = fib.counters();
                ensure!(c.deleted == 300, "{c:?}");
                let snap = fib.snapshot().await?;
                ensure!(
                    snap.entries.iter().all(|e| e.state == EntryState::Synced)
                        && snap.entries.len() == desired.len(),
                    "{:?}",
                    snap.entries.iter().find(|e| e.state != EntryState::Synced)
                );
                fib.shutdown(Retention::Flush).await?;
                ensure!(gateways(dut)?.is_empty(), "flush on administrative stop");
                Ok(())
            })
        })
    })
    .unwrap();
    assert_cleaned_up(&names, &[], &[]);
}

fn gw_of(route: &Route) -> Ipv4Addr {
    match route.kind {
        RouteKind::Via {
            gateway: IpAddr::V4(g),
            ..
        } => g,
        _ => panic!("not an IPv4 via route"),
    }
}

trait RouteExt {
    fn with_gateway(self, gateway: Ipv4Addr) -> Route;
}

impl RouteExt for Route {
    fn with_gateway(mut self, gateway: Ipv4Addr) -> Route {
        self.kind = RouteKind::Via {
            gateway: IpAddr::V4(gateway),
            ifindex: None,
        };
        self
    }
}

/// Polls (every 5 ms) until `check` holds; returns how long it took.
fn time_until(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    loop {
        if check()? {
            return Ok(start.elapsed());
        }
        ensure!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn installed(fib: &FibHandle, routes: &[Route]) -> anyhow::Result<()> {
    fib.apply(set_all(routes)).await?;
    fib.flush().await?;
    Ok(())
}

#[test]
fn fib_puts_back_a_route_deleted_or_changed_by_someone_else() {
    if !netns_available("fib_puts_back_a_route_deleted_or_changed_by_someone_else") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("fib-repair", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "dut", "gw")?;
        names = pair.names();
        let dut = &pair.a;
        in_netns(dut, |rt| {
            rt.block_on(async {
                let fib = FibService::start(config(Duration::ZERO), []).await?;
                let params = fib.params();
                let routes: Vec<Route> = (0..10).map(|i| via(params, i, GW_A)).collect();
                installed(&fib, &routes).await?;
                let want = expect(&routes);
                ensure!(gateways(dut)? == want);

                let metric = METRIC.to_string();
                dut.ip(&["route", "del", "198.18.0.5/32", "metric", &metric])?;
                let back = time_until("deleted route back", Duration::from_secs(2), || {
                    Ok(gateways(dut)? == want)
                })?;
                eprintln!("a deleted route was back after {back:?}");

                let gw_b = GW_B.to_string();
                let proto = PROTO.to_string();
                dut.ip(&[
                    "route",
                    "replace",
                    "198.18.0.6/32",
                    "via",
                    &gw_b,
                    "proto",
                    &proto,
                    "metric",
                    &metric,
                ])?;
                let fixed = time_until("changed route fixed", Duration::from_secs(2), || {
                    Ok(gateways(dut)? == want)
                })?;
                eprintln!("a changed route was fixed after {fixed:?}");

                // `ip route flush proto N` removes everything; all return.
                dut.ip(&["route", "flush", "proto", &proto])?;
                let all = time_until("flushed routes back", Duration::from_secs(2), || {
                    Ok(gateways(dut)? == want)
                })?;
                eprintln!("10 flushed routes were back after {all:?}");
                let c = fib.counters();
                ensure!(c.repaired >= 12, "{c:?}");
                fib.shutdown(Retention::Flush).await?;
                Ok(())
            })
        })
    })
    .unwrap();
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn fib_resyncs_after_an_event_overrun() {
    if !netns_available("fib_resyncs_after_an_event_overrun") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("fib-overrun", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "dut", "gw")?;
        names = pair.names();
        let dut = &pair.a;
        // 50,000 routes of another protocol, with deletes and changes of
        // ours in the middle: with a tiny event buffer, the events about
        // ours are lost among the others, so only a resync can fix them.
        let metric = METRIC.to_string();
        let mut batch = String::new();
        for i in 0..50_000u32 {
            let dst = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i);
            // Numeric protocols only: iproute2 6.1's name cache would
            // turn `proto static` after a `proto 200` line into 200.
            batch.push_str(&format!("route add {dst}/32 via 192.0.2.2 proto 4\n"));
            if i % 2500 == 1000 {
                let ours = host(i / 2500);
                batch.push_str(&format!("route del {ours} metric {metric}\n"));
                let ours = host(100 + i / 2500);
                batch.push_str(&format!(
                    "route replace {ours} via 192.0.2.3 proto {PROTO} metric {metric}\n"
                ));
            }
        }
        let file = lab.dir().join("burst.batch");
        std::fs::write(&file, batch)?;
        in_netns(dut, |rt| {
            rt.block_on(async {
                let mut config = config(Duration::ZERO);
                config.kernel.monitor_rcvbuf = 1; // the kernel's minimum
                let fib = FibService::start(config, []).await?;
                let params = fib.params();
                let routes: Vec<Route> = (0..1000).map(|i| via(params, i, GW_A)).collect();
                installed(&fib, &routes).await?;
                let want = expect(&routes);
                ensure!(gateways(dut)? == want);

                let started = Instant::now();
                let path = file.to_string_lossy().into_owned();
                dut.ip(&["-batch", &path])?;
                eprintln!("ip -batch of 50,040 lines took {:?}", started.elapsed());
                let synced =
                    time_until("resync after the overrun", Duration::from_secs(20), || {
                        let c = fib.counters();
                        Ok(c.overruns >= 1 && c.resyncs >= 1 && gateways(dut)? == want)
                    })?;
                let c = fib.counters();
                eprintln!(
                    "resynced {synced:?} after the burst ({} overruns, {} resyncs, {} dumps \
                     interrupted and retried)",
                    c.overruns, c.resyncs, c.dumps_interrupted
                );
                let snap = fib.snapshot().await?;
                ensure!(
                    snap.drift == 0 && snap.entries.len() == 1000,
                    "drift {}",
                    snap.drift
                );
                let others = dut.ip(&["-j", "route", "show", "proto", "4"])?;
                let others: Vec<serde_json::Value> = serde_json::from_str(&others)?;
                ensure!(
                    others.len() == 50_000,
                    "the burst left {} static routes",
                    others.len()
                );
                fib.shutdown(Retention::Flush).await?;
                Ok(())
            })
        })
    })
    .unwrap();
    assert_cleaned_up(&names, &[], &[]);
}

fn link_local(netns: &Netns, dev: &str) -> anyhow::Result<Ipv6Addr> {
    let out = netns.ip(&["-6", "-j", "addr", "show", "dev", dev, "scope", "link"])?;
    let links: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    let addr = links
        .iter()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .find_map(|a| a["local"].as_str().and_then(|s| s.parse().ok()))
        .context("no link-local address yet")?;
    Ok(addr)
}

fn ifindex(netns: &Netns, dev: &str) -> anyhow::Result<u32> {
    let out = netns.ip(&["-j", "link", "show", "dev", dev])?;
    let links: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    let index = links
        .first()
        .and_then(|l| l["ifindex"].as_u64())
        .context("no ifindex")?;
    Ok(u32::try_from(index)?)
}

#[test]
fn fib_ipv6_via_link_local_ipv4_via_inet6_and_local_routes() {
    if !netns_available("fib_ipv6_via_link_local_ipv4_via_inet6_and_local_routes") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("fib-v6", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "dut", "gw")?;
        names = pair.names();
        let dut = &pair.a;
        let mut peer_ll = None;
        wait_until(
            "v1's link-local address",
            Duration::from_secs(5),
            Duration::from_millis(50),
            || {
                peer_ll = link_local(&pair.b, "v1").ok();
                Ok(peer_ll.is_some())
            },
        )?;
        let peer_ll = peer_ll.context("link-local")?;
        let v0 = ifindex(dut, "v0")?;
        let global: Ipv6Addr = "2001:db8::2".parse()?;

        // The speaker's view: an RFC 2545 next hop pair and an RFC 8950
        // IPv4 route, mapped through a resolver that knows the peer's
        // interface.
        let mut resolver = StaticResolver::default();
        resolver.gateways.insert(IpAddr::V6(peer_ll), v0);
        let best = |next_hop| {
            Some(Best {
                source: SourceId(1),
                path_id: 0,
                attrs: Arc::new(PathAttrs {
                    next_hop,
                    ..PathAttrs::default()
                }),
            })
        };
        let pair_nh = NextHop::V6 {
            global,
            link_local: Some(peer_ll),
        };
        let changes = vec![
            RouteChange {
                prefix: "2001:db8:100::5/128".parse()?,
                old: None,
                new: best(pair_nh),
            },
            RouteChange {
                prefix: "198.51.100.7/32".parse()?,
                old: None,
                new: best(pair_nh),
            },
            RouteChange {
                prefix: "198.51.100.8/32".parse()?,
                old: None,
                new: best(NextHop::V6 {
                    global,
                    link_local: None,
                }),
            },
            // Local VMs (v0 stands in for a VM's interface).
            RouteChange {
                prefix: "10.1.1.5/32".parse()?,
                old: None,
                new: best(NextHop::Local),
            },
            RouteChange {
                prefix: "2001:db8:200::5/128".parse()?,
                old: None,
                new: best(NextHop::Local),
            },
        ];
        resolver.default_local = Some(v0);
        in_netns(dut, |rt| {
            rt.block_on(async {
                let fib = FibService::start(config(Duration::ZERO), []).await?;
                fib.apply(fib.deltas(&changes, &resolver)).await?;
                fib.flush().await?;
                let c = fib.counters();
                ensure!(c.installed == 5 && c.failures.is_empty(), "{c:?}");
                let v6 = shown(dut, "-6")?;
                let ll = peer_ll.to_string();
                let want6 = Shown {
                    gateway: ll.clone(),
                    dev: "v0".into(),
                    metric: u64::from(METRIC),
                };
                ensure!(v6.get("2001:db8:100::5") == Some(&want6), "{v6:?}");
                let v4 = shown(dut, "-4")?;
                ensure!(v4.get("198.51.100.7") == Some(&want6), "{v4:?}");
                ensure!(
                    v4.get("198.51.100.8").map(|s| s.gateway.as_str()) == Some("2001:db8::2"),
                    "{v4:?}"
                );
                let local = Shown {
                    gateway: String::new(),
                    dev: "v0".into(),
                    metric: u64::from(METRIC),
                };
                ensure!(v4.get("10.1.1.5") == Some(&local), "{v4:?}");
                ensure!(v6.get("2001:db8:200::5") == Some(&local), "{v6:?}");
                let scope = dut.ip(&["-j", "route", "show", "10.1.1.5/32"])?;
                ensure!(scope.contains(r#""scope":"link""#), "{scope}");
                let snap = fib.snapshot().await?;
                ensure!(snap.drift == 0 && snap.entries.len() == 5, "{snap:?}");

                // The monitor sees IPv6 and RFC 8950 deletions too.
                let metric = METRIC.to_string();
                dut.ip(&[
                    "-6",
                    "route",
                    "del",
                    "2001:db8:100::5/128",
                    "metric",
                    &metric,
                ])?;
                dut.ip(&["route", "del", "198.51.100.7/32", "metric", &metric])?;
                let back = time_until(
                    "IPv6 and via-inet6 routes back",
                    Duration::from_secs(2),
                    || {
                        Ok(shown(dut, "-6")?.get("2001:db8:100::5") == Some(&want6)
                            && shown(dut, "-4")?.get("198.51.100.7") == Some(&want6))
                    },
                )?;
                eprintln!("IPv6 and via-inet6 routes back after {back:?}");

                // A restart keeps them (a desired set equal to the kernel's
                // means no netlink writes at all).
                let desired: Vec<Route> = fib
                    .snapshot()
                    .await?
                    .entries
                    .iter()
                    .filter_map(|e| e.desired.map(|kind| fib.params().route(e.key.prefix, kind)))
                    .collect();
                fib.shutdown(Retention::Keep).await?;
                let again = FibService::start(config(Duration::from_secs(60)), desired).await?;
                again.flush().await?;
                let c = again.counters();
                ensure!(
                    c.installed == 0 && c.replaced == 0 && c.deleted == 0,
                    "{c:?}"
                );
                again.shutdown(Retention::Flush).await?;
                ensure!(shown(dut, "-6")?.is_empty() && shown(dut, "-4")?.is_empty());
                Ok(())
            })
        })
    })
    .unwrap();
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn fib_counts_refused_routes_by_errno_and_retries_them() {
    if !netns_available("fib_counts_refused_routes_by_errno_and_retries_them") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("fib-refused", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "dut", "gw")?;
        names = pair.names();
        let dut = &pair.a;
        in_netns(dut, |rt| {
            rt.block_on(async {
                // Both ACK modes: with `LastOfDatagram` the refused route
                // (in the middle of a datagram) asked for no ACK, so its
                // NACK arrives unsolicited and maps back by its echo.
                for (round, ack) in [AckMode::LastOfDatagram, AckMode::EachMessage]
                    .into_iter()
                    .enumerate()
                {
                    let mut config = config(Duration::ZERO);
                    config.retry_interval = Duration::from_millis(100);
                    config.kernel.ack = ack;
                    config.kernel.batch_size = 4;
                    let fib = FibService::start(config, []).await?;
                    let params = fib.params();
                    // 203.0.113.0/24 is no connected subnet: the kernel
                    // refuses the route (ENETUNREACH), the rest go in.
                    let unreachable: Ipv4Addr = "203.0.113.1".parse()?;
                    let mut routes: Vec<Route> = (0..6).map(|i| via(params, i, GW_A)).collect();
                    routes[2] = via(params, 2, unreachable);
                    installed(&fib, &routes).await?;
                    let c = fib.counters();
                    ensure!(c.installed == 5, "{ack:?}: {c:?}");
                    ensure!(c.failures.get(&101).copied().unwrap_or(0) >= 1, "{c:?}");
                    let last = c.last_failure.clone().context("no failure recorded")?;
                    ensure!(last.key == Some(routes[2].key()), "{last:?}");
                    eprintln!("{ack:?}: refused: errno {} {:?}", last.errno, last.message);
                    let snap = fib.snapshot().await?;
                    let missing: Vec<_> = snap
                        .entries
                        .iter()
                        .filter(|e| e.state == EntryState::Missing)
                        .map(|e| e.key)
                        .collect();
                    ensure!(missing == vec![routes[2].key()], "{missing:?}");

                    // Once the gateway is reachable, the retry installs it.
                    let subnet = "203.0.113.2/24".parse()?;
                    pair.link.a.add_addr(subnet)?;
                    let took = time_until("the refused route retried", Duration::from_secs(3), || {
                        Ok(gateways(dut)? == expect(&routes))
                    })?;
                    eprintln!("{ack:?}: the refused route went in {took:?} after its gateway became reachable");
                    fib.shutdown(Retention::Flush).await?;
                    pair.link.a.del_addr(subnet)?;
                    ensure!(gateways(dut)?.is_empty(), "round {round} flushed");
                }
                Ok(())
            })
        })
    })
    .unwrap();
    assert_cleaned_up(&names, &[], &[]);
}
