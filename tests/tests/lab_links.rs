//! The lab's own guarantees: a veth end moves between namespaces the way a
//! live migration will (the VM keeps its address and MAC), and namespaces
//! and processes go away even when a test panics.
//!
//! ```text
//!   before:  vm: eth0 192.0.2.5/24 <-- veth --> hv1: vm1 192.0.2.1/24
//!   after:   vm: eth0 192.0.2.5/24 <-- veth --> hv2: vm1 192.0.2.1/24
//! ```

use std::time::Duration;

use anyhow::ensure;
use hostroute_tests::{assert_cleaned_up, netns_available};
use lab::{Lab, Mac, Netns, wait_until};

fn ping(from: &Netns, to: &str) -> lab::Result<bool> {
    Ok(from
        .exec("ping", &["-c", "1", "-W", "1", to])?
        .status
        .success())
}

#[test]
fn veth_end_moves_and_the_vm_keeps_address_and_mac() {
    if !netns_available("veth_end_moves_and_the_vm_keeps_address_and_mac") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("move", |lab| -> anyhow::Result<()> {
        let vm = Netns::new(lab, "vm")?;
        let hv1 = Netns::new(lab, "hv1")?;
        let hv2 = Netns::new(lab, "hv2")?;
        names = vec![vm.name().into(), hv1.name().into(), hv2.name().into()];
        let mut link = lab::veth(&vm, "eth0", &hv1, "vm1")?;
        let mac: Mac = "02:00:00:00:00:05".parse()?;
        link.a.set_mac(mac)?;
        link.a.add_addr("192.0.2.5/24".parse()?)?;
        link.b.add_addr("192.0.2.1/24".parse()?)?;
        ensure!(ping(&vm, "192.0.2.1")?, "no ping before the move");

        link.b.move_to(&hv2)?;
        ensure!(link.b.netns() == hv2.name(), "{:?}", link.b);
        ensure!(
            hv1.ip(&["link", "show", "vm1"]).is_err(),
            "vm1 still in hv1"
        );
        ensure!(
            !link.b.addrs()?.contains(&"192.0.2.1/24".parse()?),
            "the address moved along (the kernel drops it)"
        );
        link.b.add_addr("192.0.2.1/24".parse()?)?;
        ensure!(link.a.mac()? == mac, "the VM's MAC changed");
        ensure!(
            link.a.addrs()?.contains(&"192.0.2.5/24".parse()?),
            "the VM lost its address"
        );
        wait_until(
            "the moved link to carry traffic",
            Duration::from_secs(5),
            Duration::from_millis(100),
            || Ok(link.a.is_up()? && link.b.is_up()? && ping(&vm, "192.0.2.1")?),
        )?;

        // A move under a new name, and back.
        link.b.move_to_as(&hv1, "vm1-back")?;
        ensure!(
            link.b.netns() == hv1.name() && link.b.name() == "vm1-back",
            "{:?}",
            link.b
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn a_panic_still_removes_namespaces_and_processes() {
    if !netns_available("a_panic_still_removes_namespaces_and_processes") {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let (dir_tx, dir_rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let lab = Lab::new("panic").unwrap_or_else(|e| panic!("{e}"));
        let _ = dir_tx.send(lab.dir().to_path_buf());
        let ns = Netns::new(&lab, "doomed").unwrap_or_else(|e| panic!("{e}"));
        let child = ns
            .spawn("sleeper", "sleep", &["60"])
            .unwrap_or_else(|e| panic!("{e}"));
        // A process the lab did not wrap in a guard: the namespace kills it.
        let stray = ns
            .exec("sh", &["-c", "sleep 60 >/dev/null 2>&1 & echo $!"])
            .unwrap_or_else(|e| panic!("{e}"));
        let stray: u32 = String::from_utf8_lossy(&stray.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = tx.send((ns.name().to_string(), vec![child.pid(), stray]));
        panic!("on purpose, with a namespace and two processes alive");
    })
    .join();
    assert!(outcome.is_err(), "the thread should have panicked");
    let (name, pids) = rx.recv().unwrap_or_else(|e| panic!("{e}"));
    // The stray process was orphaned to init, which reaps it soon after the
    // kill; give it a bounded moment.
    let gone = wait_until(
        "processes to be reaped",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            Ok(pids
                .iter()
                .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()))
        },
    );
    assert!(gone.is_ok(), "{gone:?}");
    assert_cleaned_up(&[name], &pids, &[]);
    // The run directory is kept after a panic, for inspection; this panic
    // was on purpose.
    let dir = dir_rx.recv().unwrap_or_else(|e| panic!("{e}"));
    assert!(dir.exists(), "a failed run keeps its directory");
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
}
