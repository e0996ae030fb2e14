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
