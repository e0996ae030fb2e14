//! `hostroute`: the hypervisor daemon's operator CLI (`show ...`, `vm ...`).
//! Each subcommand is one arm of [`Command`].

use std::process::ExitCode;

use agent::cli::{self, GlobalArgs, ShowCommand, VmCommand};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "hostroute",
    version,
    about = "hostroute: host-route mobility for VMs (BGP + BFD)",
    long_about = "hostroute: host-route mobility for VMs (BGP + BFD).\n\n\
        `show` inspects a running daemon and `vm` tells it about VMs, over its \
        control socket. Tables are for people; --json prints the daemon's data \
        for scripts.",
    after_help = cli::EXIT_CODES
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect the running daemon.
    #[command(subcommand, after_help = cli::EXIT_CODES)]
    Show(ShowCommand),
    /// Tell the daemon about a VM (libvirt's qemu hook calls these).
    #[command(subcommand, after_help = cli::EXIT_CODES)]
    Vm(VmCommand),
}

fn main() -> ExitCode {
    // Usage errors exit 2 here (clap), --help and --version 0.
    let args = Cli::parse();
    match &args.command {
        Command::Show(show) => cli::run(&args.global, &show.request()),
        Command::Vm(vm) => cli::run(&args.global, &vm.request()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_argument_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn show_and_vm_build_their_requests() {
        let args =
            Cli::try_parse_from(["hostroute", "show", "routes", "10.1.1.5", "--json"]).unwrap();
        assert!(args.global.json);
        match args.command {
            Command::Show(show) => assert_eq!(
                show.request(),
                agent::control::Request::ShowRoutes {
                    prefix: Some("10.1.1.5/32".parse().unwrap())
                }
            ),
            Command::Vm(_) => panic!("parsed as vm"),
        }
        let args = Cli::try_parse_from([
            "hostroute",
            "vm",
            "attach",
            "--vm",
            "web1",
            "--interface",
            "vnet3",
            "--address",
            "10.1.1.5",
            "--address",
            "2001:db8::5",
            "--mac",
            "52:54:00:12:34:56",
        ])
        .unwrap();
        let Command::Vm(vm) = args.command else {
            panic!("parsed as show")
        };
        let hook = vm.request().hook().unwrap();
        assert_eq!(
            hook,
            agent::detect::Hook::Attach {
                vm: "web1".into(),
                ifname: "vnet3".into(),
                addresses: vec!["10.1.1.5".parse().unwrap(), "2001:db8::5".parse().unwrap()],
                mac: Some("52:54:00:12:34:56".parse().unwrap()),
            }
        );
    }
}
