//! `lab`: bring the hostroute lab up and down, look inside, move VMs, and
//! run the demo. See `lab --help`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use lab::cli;
use lab::scenario::Mode;

#[derive(Parser)]
#[command(name = "lab", about = "The hostroute network-namespace lab")]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Bring a topology up (the built-in demo topology by default) and keep
    /// it until `lab down`.
    Up {
        /// A topology file (see lab/topologies/default.toml).
        topology: Option<PathBuf>,
        /// hostroute (host routes) or l2-stretch (VXLAN baseline).
        #[arg(long, default_value = "hostroute")]
        mode: Mode,
        /// Stay in the foreground and hold the lab until Ctrl-C.
        #[arg(long)]
        foreground: bool,
    },
    /// Remove a lab: its namespaces and processes.
    Down {
        #[arg(long)]
        name: Option<String>,
    },
    /// Show the labs that are up.
    Status {
        #[arg(long)]
        name: Option<String>,
    },
    /// Run a command inside a node's namespace: `lab exec r1 -- ip route`.
    Exec {
        #[arg(long)]
        name: Option<String>,
        node: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Live-migrate a VM to another hypervisor.
    Migrate {
        #[arg(long)]
        name: Option<String>,
        vm: String,
        hypervisor: String,
        /// Pause of the VM (stop-and-copy), in milliseconds.
        #[arg(long, default_value_t = 20)]
        blackout_ms: u64,
    },
    /// The same live migration in L2-stretch and hostroute mode, side by
    /// side: table, JSON and an SVG plot.
    Demo {
        topology: Option<PathBuf>,
        /// Where the JSON and SVG go.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        blackout_ms: u64,
        /// Only this mode.
        #[arg(long)]
        mode: Option<Mode>,
    },
}

fn main() -> Result<()> {
    tracing_subscriber_init();
    let args = Args::parse();
    cli::require_root()?;
    match args.command {
        Cmd::Up {
            topology,
            mode,
            foreground,
        } => {
            if foreground {
                cli::up_foreground(topology.as_deref(), mode)?;
            } else {
                let state = cli::up_detached(topology.as_deref(), mode)?;
                println!("lab {} is up ({} mode)", state.name, state.mode);
                print!("{}", cli::status(Some(&state.name))?);
            }
        }
        Cmd::Down { name } => {
            for line in cli::down(name.as_deref())? {
                println!("{line}");
            }
        }
        Cmd::Status { name } => print!("{}", cli::status(name.as_deref())?),
        Cmd::Exec {
            name,
            node,
            command,
        } => std::process::exit(cli::exec(name.as_deref(), &node, &command)?),
        Cmd::Migrate {
            name,
            vm,
            hypervisor,
            blackout_ms,
        } => println!(
            "{}",
            cli::migrate(name.as_deref(), &vm, &hypervisor, blackout_ms)?
        ),
        Cmd::Demo {
            topology,
            out,
            blackout_ms,
            mode,
        } => {
            let out = out.unwrap_or_else(cli::default_out);
            let text = cli::demo(topology.as_deref(), &out, |o| {
                o.blackout = Duration::from_millis(blackout_ms);
                if let Some(mode) = mode {
                    o.modes = vec![mode];
                }
            })?;
            print!("{text}");
        }
    }
    Ok(())
}

/// Logs to stderr, filtered by RUST_LOG (warnings by default).
fn tracing_subscriber_init() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
