//! The libvirt qemu hook (agent/hooks/qemu): run under `sh` and `dash`
//! with a fake `hostroute` that records its arguments, on a sample domain
//! XML (agent/tests/data/domain-web1.xml).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hooks/qemu");
const DOMAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/domain-web1.xml");

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fake `hostroute` that appends its arguments to `calls` and exits
    /// with `exit`.
    fn new(exit: u8) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("hostroute");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"{}\"\necho 'refused by the fake' >&2\nexit {exit}\n",
                dir.path().join("calls").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { dir }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Runs the hook as libvirt does; answers (exit code, stderr).
    fn hook(&self, shell: &str, args: &[&str], xml: &[u8]) -> (i32, String) {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut child = Command::new(shell)
            .arg(HOOK)
            .args(args)
            .env("PATH", path)
            .env_remove("HOSTROUTE")
            .env("HOSTROUTE_HOOK_STATE", self.state())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(xml).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The calls recorded since the last look.
    fn take_calls(&self) -> Vec<String> {
        let file = self.dir.path().join("calls");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let _ = std::fs::remove_file(&file);
        text.lines().map(str::to_string).collect()
    }
}

fn shells() -> Vec<&'static str> {
    ["sh", "dash"]
        .into_iter()
        .filter(|s| {
            Command::new(s)
                .args(["-c", "true"])
                .status()
                .is_ok_and(|st| st.success())
        })
        .collect()
}

const ATTACH_VNET3: &str = "--timeout 3 vm attach --vm web1 --interface vnet3 --mac 52:54:00:12:34:56 --address 10.1.1.5 --address 10.1.1.6 --address 2001:db8:1::5";
const ATTACH_VNET4: &str =
    "--timeout 3 vm attach --vm web1 --interface vnet4 --mac 52:54:00:ab:cd:ef --address 10.1.2.7";

#[test]
fn start_attaches_every_named_interface_with_its_addresses() {
    let xml = std::fs::read(DOMAIN).unwrap();
    for shell in shells() {
        let sandbox = Sandbox::new(0);
        let (code, _) = sandbox.hook(shell, &["web1", "started", "begin", "-"], &xml);
        assert_eq!(code, 0, "{shell}");
        // libvirt's <ip> and hostroute metadata merged, deduplicated; the
        // nova metadata, PCI <address> elements and the interface without
        // a target ignored.
        assert_eq!(
            sandbox.take_calls(),
            [ATTACH_VNET3, ATTACH_VNET4],
            "{shell}"
        );
    }
}

#[test]
fn an_incoming_migration_prepares_then_release_detaches() {
    let xml = std::fs::read(DOMAIN).unwrap();
    for shell in shells() {
        let sandbox = Sandbox::new(0);
        let run = |args: &[&str]| {
            let (code, err) = sandbox.hook(shell, args, &xml);
            assert_eq!(code, 0, "{shell} {args:?}: {err}");
            sandbox.take_calls()
        };
        assert!(run(&["web1", "migrate", "begin", "-"]).is_empty());
        assert!(run(&["web1", "prepare", "begin", "-"]).is_empty());
        assert_eq!(
            run(&["web1", "started", "begin", "-"]),
            [
                ATTACH_VNET3.replace("attach", "migrate-begin"),
                ATTACH_VNET4.replace("attach", "migrate-begin"),
            ],
            "{shell}"
        );
        assert_eq!(
            run(&["web1", "release", "end", "-"]),
            [
                "--timeout 3 vm detach --vm web1 --interface vnet3",
                "--timeout 3 vm detach --vm web1 --interface vnet4",
            ],
            "{shell}"
        );
        // The migration is forgotten: the next start is a plain attach.
        assert_eq!(
            run(&["web1", "started", "begin", "-"]),
            [ATTACH_VNET3, ATTACH_VNET4],
            "{shell}"
        );
        assert!(run(&["web1", "stopped", "end", "-"]).is_empty());
    }
}

#[test]
fn a_failing_daemon_never_fails_the_vm() {
    let xml = std::fs::read(DOMAIN).unwrap();
    let sandbox = Sandbox::new(3);
    let (code, err) = sandbox.hook("sh", &["web1", "started", "begin", "-"], &xml);
    assert_eq!(code, 0);
    assert!(
        err.contains("hostroute-hook: web1: hostroute vm attach --vm web1 --interface vnet3"),
        "{err}"
    );
    assert!(err.contains("(exit 3): refused by the fake"), "{err}");
    assert_eq!(sandbox.take_calls().len(), 2);
}

#[test]
fn hostile_xml_is_not_expanded_or_passed_on() {
    let xml = br#"<domain><devices>
      <interface type='ethernet'>
        <mac address='52:54:00:12:34:56'/>
        <target dev='vnet5'/>
        <ip address='*'/>
        <ip address='$(touch /tmp/hostroute-hook-pwned)'/>
        <ip address='10.1.1.9'/>
      </interface>
      <interface type='ethernet'>
        <target dev='x;rm -rf /'/>
      </interface>
      <interface type='ethernet'>
        <mac address='not-a-mac'/>
        <target dev='vnet6'/>
      </interface>
    </devices></domain>"#;
    let sandbox = Sandbox::new(0);
    let (code, _) = sandbox.hook("sh", &["web1", "started", "begin", "-"], xml);
    assert_eq!(code, 0);
    assert_eq!(
        sandbox.take_calls(),
        [
            "--timeout 3 vm attach --vm web1 --interface vnet5 --mac 52:54:00:12:34:56 --address 10.1.1.9",
            "--timeout 3 vm attach --vm web1 --interface vnet6",
        ]
    );
    assert!(!Path::new("/tmp/hostroute-hook-pwned").exists());
}

#[test]
fn the_real_cli_accepts_what_the_hook_sends() {
    // Every recorded argument list parses (no usage error, exit 2): with no
    // daemon, the CLI stops at "not running" (exit 3).
    let xml = std::fs::read(DOMAIN).unwrap();
    let sandbox = Sandbox::new(0);
    for op in [
        ["migrate", "begin"],
        ["started", "begin"],
        ["release", "end"],
    ] {
        sandbox.hook("sh", &["web1", op[0], op[1], "-"], &xml);
    }
    let calls = sandbox.take_calls();
    assert_eq!(calls.len(), 4);
    let socket = sandbox.dir.path().join("no-daemon.sock");
    for call in calls {
        let status = Command::new(env!("CARGO_BIN_EXE_hostroute"))
            .arg("--socket")
            .arg(&socket)
            .args(call.split(' '))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3), "{call}");
    }
}
