//! `hostroute`: the hypervisor daemon (`hostroute daemon --config FILE`)
//! and its operator CLI (`show ...`, `vm ...`). Each subcommand is one arm
//! of [`Command`].

use std::path::PathBuf;
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
    /// Run the daemon (as root, in the hypervisor's network namespace).
    Daemon(DaemonArgs),
}

#[derive(clap::Args, Debug)]
struct DaemonArgs {
    /// The configuration file (see agent/hostroute.example.toml).
    #[arg(long, short, default_value = "/etc/hostroute/hostroute.toml")]
    config: PathBuf,
    /// Check the configuration file and exit (0: valid, 1: invalid).
    #[arg(long)]
    check: bool,
    /// On SIGTERM withdraw every route and delete our kernel routes,
    /// instead of keeping them forwarding for a graceful restart.
    #[arg(long)]
    flush_on_exit: bool,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn daemon(args: &DaemonArgs) -> ExitCode {
    let config = match agent::config::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hostroute: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        println!("{}: valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOSTROUTE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hostroute: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = agent::daemon::Options {
        config_path: args.config.clone(),
        flush_on_exit: args.flush_on_exit,
    };
    match runtime.block_on(agent::daemon::serve(options, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "hostroute daemon failed");
            eprintln!("hostroute: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    // Usage errors exit 2 here (clap), --help and --version 0.
    let args = Cli::parse();
    match &args.command {
        Command::Show(show) => cli::run(&args.global, &show.request()),
        Command::Vm(vm) => cli::run(&args.global, &vm.request()),
        Command::Daemon(d) => daemon(d),
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
            Command::Vm(_) | Command::Daemon(_) => panic!("parsed as something else"),
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
            panic!("parsed as something else")
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
