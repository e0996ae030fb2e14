//! The path packets take, read hop by hop from each namespace's FIB with
//! `ip route get`, the way a traceroute would see it but without sending
//! anything: each hop's next hop address names the next node (the plan
//! knows whose address it is); the stretched segment shows as `~vxlan~`.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::scenario::{Deployment, Mode};
use crate::stretch;

/// Longest path followed.
const MAX_HOPS: usize = 16;

/// `ip route get` retries (100 ms apart) while a node has no route yet.
const ROUTE_RETRIES: u32 = 150;

/// The nodes from `from` to the node holding `dest`, e.g.
/// `["client", "rc", "r2", "hv3", "vm1"]`.
pub fn walk(d: &Deployment, from: &str, dest: Ipv4Addr) -> Result<Vec<String>> {
    let mut hops = vec![from.to_string()];
    let mut node = from.to_string();
    let gateway = d.topology.mobility.gateway4;
    for _ in 0..MAX_HOPS {
        let netns = d.netns(&node)?;
        // Routes may still be arriving (a loaded machine, the deployment
        // just up): a missing route is retried for a while, bounded.
        let mut tries = 0;
        let out = loop {
            match netns.ip(&["-o", "route", "get", &dest.to_string()]) {
                Ok(out) => break out,
                Err(_) if tries < ROUTE_RETRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        };
        if out.split_whitespace().next() == Some("local") {
            return Ok(hops);
        }
        let word_after = |key: &str| {
            let mut words = out.split_whitespace();
            while let Some(w) = words.next() {
                if w == key {
                    return words.next().map(str::to_string);
                }
            }
            None
        };
        let dev = word_after("dev").unwrap_or_default();
        let via: Option<Ipv4Addr> = word_after("via").and_then(|v| v.parse().ok());
        let next = match via {
            Some(addr) if addr == gateway => gateway_owner(d, &node)?,
            Some(addr) => d.plan.owner_of(addr).map(str::to_string).ok_or_else(|| {
                Error::parse(
                    format!("route in {node}"),
                    format!("unknown next hop {addr}"),
                )
            })?,
            None => connected_owner(d, &node, &dev, dest)?,
        };
        hops.push(next.clone());
        // A hop across the stretched segment is labelled `~vxlan~ <node>`.
        node = next.rsplit(' ').next().unwrap_or_default().to_string();
    }
    Err(Error::parse(
        format!("path from {from} to {dest}"),
        format!("no end after {MAX_HOPS} hops: {hops:?}"),
    ))
}

/// Who answers for the gateway address seen from `node` (a VM): its
/// hypervisor with host routes; the gateway router across the stretched
/// segment otherwise.
fn gateway_owner(d: &Deployment, node: &str) -> Result<String> {
    let vm = d.vm(node)?;
    match d.mode {
        Mode::Hostroute => Ok(vm.hypervisor.clone()),
        Mode::L2Stretch => {
            let router = stretch_gateway_router(d)?;
            Ok(if segment_crosses(d, &vm.hypervisor)? {
                format!("~vxlan~ {router}")
            } else {
                router
            })
        }
    }
}

/// Whose address `dest` is on a connected link `dev` of `node`.
fn connected_owner(d: &Deployment, node: &str, dev: &str, dest: Ipv4Addr) -> Result<String> {
    if let Some(vm) = d.vms.values().find(|v| v.ipv4.addr() == dest) {
        if dev == stretch::GATEWAY_IFACE {
            return Ok(if segment_crosses(d, &vm.hypervisor)? {
                format!("~vxlan~ {}", vm.name)
            } else {
                vm.name.clone()
            });
        }
        if d.vm(&vm.name)?.tap.netns() == d.netns(node)?.name() {
            return Ok(vm.name.clone());
        }
    }
    d.plan.owner_of(dest).map(str::to_string).ok_or_else(|| {
        Error::parse(
            format!("route in {node}"),
            format!("{dest} on {dev}: whose?"),
        )
    })
}

/// The router holding the stretched segment's gateway.
fn stretch_gateway_router(d: &Deployment) -> Result<String> {
    let first = d
        .topology
        .vms
        .first()
        .ok_or_else(|| Error::Config("no VM".into()))?;
    d.topology
        .site_of(first.hypervisor.get_ref())
        .map(|s| s.router.clone())
        .ok_or_else(|| Error::Config("no gateway site".into()))
}

/// Whether frames between the gateway and a VM on `hv` cross sites.
fn segment_crosses(d: &Deployment, hv: &str) -> Result<bool> {
    let gw_router = stretch_gateway_router(d)?;
    Ok(d.topology.site_of(hv).map(|s| s.router.as_str()) != Some(gw_router.as_str()))
}

/// `a > b > c`.
pub fn render(hops: &[String]) -> String {
    hops.join(" > ")
}
