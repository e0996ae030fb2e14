//! A scripted raw BGP peer: the adversary of the speaker's namespace tests,
//! in the manner of FRR's topotests and ExaBGP's raw attributes, but byte
//! exact and deterministic.
//!
//! `hr-rawpeer [--limit-ms N] <script>` runs a script file;
//! `hr-rawpeer [--limit-ms N] -` reads the script from stdin one line at a
//! time and answers each with `{"done":N}`, so a test can check the
//! speaker between steps while the session stays up. Every message
//! received is printed as a JSON line (`{"recv":"notification","code":1,..}`);
//! the first mismatch prints `{"error":"..."}` and exits 1 (2 for a script
//! error). A watchdog ends the process after `--limit-ms` (30 s by default),
//! so a caller waiting for it never waits longer.
//!
//! ```text
//! connect ADDR:PORT [from=IP] [retry=MS]   TCP to the speaker; with retry, reconnect every
//!                                          100 ms until the speaker's OPEN arrives (the
//!                                          next expect-open takes that OPEN)
//! listen ADDR:PORT                         accept one connection instead
//! timeout MS                               how long each expect-* waits (default 5000)
//! send HEX                                 raw bytes, `_` allowed between digits
//! send-msg TYPE [len=N] [HEX]              header (true length unless len=) and body
//! send-open [as=N] [hold=N] [id=IP] [version=N] [caps=std|two-octet|none] [params=HEX]
//!                                          caps: multiprotocol IPv4 and IPv6, route refresh
//!                                          and 4-octet AS (std), the same without 4-octet
//!                                          AS, or none
//!                                          params: the raw bytes from Opt Parm Len on
//! send-keepalive
//! send-update [announce=P].. [withdraw=P].. [origin=N] [as-path=A,B,..] [next-hop=IP]
//!             [next-hop6=IP] [med=N] [community=A:B] [aggregator=ASN:IP]
//!             [atomic-aggregate] [omit=CODE].. [raw=FLAGS:CODE:VALUE]..
//!             [raw-tail=HEX] [nlri-raw=HEX]
//!                                          raw= is all hex: flags, type code, value;
//!                                          IPv6 prefixes go in MP_REACH/MP_UNREACH (first),
//!                                          raw attributes after the built ones, raw-tail
//!                                          bytes at the end of the attribute field
//! wait-established [send-open options]     send-open, expect-open, send-keepalive,
//!                                          expect-keepalive
//! expect-open | expect-keepalive
//! expect-notification CODE SUBCODE [data=HEX]
//! expect-update [announce=P] [withdraw=P] [attr=CODE] [flags=HEX] [no-attr=CODE]
//!                                          the first UPDATE with that prefix and attribute
//!                                          (others are skipped); flags must then match
//!                                          and no-attr be absent
//! expect-update-count N                    UPDATEs received on this connection
//! expect-quiet MS                          no NOTIFICATION, no close for MS
//! expect-closed                            the speaker closed the connection
//! keepalives off|on                        stop (a silent peer) or resume KEEPALIVEs
//! sleep MS | close
//! ```
//!
//! Expectations skip KEEPALIVEs (and UPDATEs, except expect-update);
//! anything else that arrives first is a mismatch. Once both OPENs are
//! exchanged and our KEEPALIVE is sent, KEEPALIVEs go out every third of
//! the negotiated hold time while the script waits.

use std::io::{BufRead, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use proto::bgp::MARKER;
use serde_json::{Value, json};

#[path = "rawpeer/peer.rs"]
mod peer;
#[path = "rawpeer/wire.rs"]
mod wire;

use peer::Peer;

/// Exit status for a script that does not parse.
const SCRIPT_ERROR: i32 = 2;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut limit = Duration::from_secs(30);
    if args.first().map(String::as_str) == Some("--limit-ms") {
        match args.get(1).and_then(|v| v.parse().ok()) {
            Some(ms) => limit = Duration::from_millis(ms),
            None => usage(),
        }
        args.drain(..2);
    }
    let [source] = args.as_slice() else { usage() };
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        say(json!({"error": format!("watchdog: still running after {} ms", limit.as_millis())}));
        std::process::exit(1);
    });
    let mut peer = Peer::new();
    let result = if source == "-" {
        run_lines(&mut peer, std::io::stdin().lock().lines(), true)
    } else {
        match std::fs::read_to_string(source) {
            Ok(text) => run_lines(&mut peer, text.lines().map(|l| Ok(l.to_string())), false),
            Err(e) => Err(Failure::Script(format!("reading {source}: {e}"))),
        }
    };
    match result {
        Ok(()) => say(json!({"result": "ok"})),
        Err(Failure::Mismatch(e)) => {
            say(json!({"error": e}));
            eprintln!("hr-rawpeer: {e}");
            std::process::exit(1);
        }
        Err(Failure::Script(e)) => {
            say(json!({"error": format!("script: {e}")}));
            eprintln!("hr-rawpeer: script: {e}");
            std::process::exit(SCRIPT_ERROR);
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: hr-rawpeer [--limit-ms N] <script | ->");
    std::process::exit(SCRIPT_ERROR);
}

enum Failure {
    /// The speaker did not do what the script expected (or I/O failed).
    Mismatch(String),
    /// The script itself is wrong.
    Script(String),
}

fn run_lines(
    peer: &mut Peer,
    lines: impl Iterator<Item = std::io::Result<String>>,
    interactive: bool,
) -> Result<(), Failure> {
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| Failure::Script(format!("reading the script: {e}")))?;
        let text = line.split('#').next().unwrap_or_default().trim();
        let number = n + 1;
        if !text.is_empty() {
            say(json!({"step": number, "line": text}));
            let step = Step::parse(text)
                .map_err(|e| Failure::Script(format!("line {number} `{text}`: {e:#}")))?;
            peer.run(step)
                .map_err(|e| Failure::Mismatch(format!("line {number} `{text}`: {e:#}")))?;
        }
        if interactive {
            say(json!({"done": number}));
        }
    }
    Ok(())
}

/// Prints one JSON line on stdout, at once.
fn say(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|&b| b != b'_').collect();
    ensure!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits in {text:?}"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair)?;
            u8::from_str_radix(s, 16).with_context(|| format!("{s:?} in {text:?} is not hex"))
        })
        .collect()
}

/// A number in decimal or with a 0x prefix.
fn number<T: TryFrom<u64>>(text: &str) -> Result<T> {
    let v = match text.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16)?,
        None => text.parse()?,
    };
    T::try_from(v).map_err(|_| anyhow!("{text} is out of range"))
}

/// `key=value` options and bare flags, in order.
struct Options(Vec<(String, String)>);

impl Options {
    fn parse<'a>(words: impl Iterator<Item = &'a str>) -> Self {
        Self(
            words
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (w.to_string(), String::new()),
                })
                .collect(),
        )
    }

    fn all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let key = key.to_string();
        self.0
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.all(key).last()
    }

    fn has(&self, key: &str) -> bool {
        self.all(key).next().is_some()
    }

    fn check(&self, known: &[&str]) -> Result<()> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => bail!("unknown option {k:?} (known: {})", known.join(" ")),
            None => Ok(()),
        }
    }
}

const OPEN_OPTIONS: &[&str] = &["as", "hold", "id", "version", "caps", "params"];
const UPDATE_OPTIONS: &[&str] = &[
    "announce",
    "withdraw",
    "origin",
    "as-path",
    "next-hop",
    "next-hop6",
    "med",
    "community",
    "aggregator",
    "atomic-aggregate",
    "omit",
    "raw",
    "raw-tail",
    "nlri-raw",
];

/// One script line.
enum Step {
    Connect {
        to: SocketAddr,
        from: Option<IpAddr>,
        retry: Option<Duration>,
    },
    Listen(SocketAddr),
    Timeout(Duration),
    Send(Vec<u8>),
    SendOpen(Options),
    SendKeepalive,
    SendUpdate(Options),
    WaitEstablished(Options),
    ExpectOpen,
    ExpectKeepalive,
    ExpectNotification {
        code: u8,
        subcode: u8,
        data: Option<Vec<u8>>,
    },
    ExpectUpdate(Options),
    ExpectUpdateCount(usize),
    ExpectQuiet(Duration),
    ExpectClosed,
    Keepalives(bool),
    Sleep(Duration),
    Close,
}

impl Step {
    fn parse(line: &str) -> Result<Self> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let mut arg = || {
            words
                .next()
                .ok_or_else(|| anyhow!("{verb}: argument missing"))
        };
        let ms = |s: &str| -> Result<Duration> { Ok(Duration::from_millis(number(s)?)) };
        Ok(match verb {
            "connect" => {
                let to = arg()?.parse()?;
                let opts = Options::parse(words);
                opts.check(&["from", "retry"])?;
                Step::Connect {
                    to,
                    from: opts.get("from").map(str::parse).transpose()?,
                    retry: opts.get("retry").map(ms).transpose()?,
                }
            }
            "listen" => Step::Listen(arg()?.parse()?),
            "timeout" => Step::Timeout(ms(arg()?)?),
            "send" => Step::Send(unhex(&words.collect::<String>())?),
            "send-msg" => {
                let code: u8 = number(arg()?)?;
                let mut len = None;
                let mut body = Vec::new();
                for w in words {
                    match w.strip_prefix("len=") {
                        Some(l) => len = Some(number::<u16>(l)?),
                        None => body.extend(unhex(w)?),
                    }
                }
                let len = match len {
                    Some(l) => l,
                    None => u16::try_from(19 + body.len())?,
                };
                let mut bytes = MARKER.to_vec();
                bytes.extend_from_slice(&len.to_be_bytes());
                bytes.push(code);
                bytes.extend(body);
                Step::Send(bytes)
            }
            "send-open" | "wait-established" => {
                let opts = Options::parse(words);
                opts.check(OPEN_OPTIONS)?;
                if verb == "send-open" {
                    Step::SendOpen(opts)
                } else {
                    Step::WaitEstablished(opts)
                }
            }
            "send-keepalive" => Step::SendKeepalive,
            "send-update" => {
                let opts = Options::parse(words);
                opts.check(UPDATE_OPTIONS)?;
                Step::SendUpdate(opts)
            }
            "expect-open" => Step::ExpectOpen,
            "expect-keepalive" => Step::ExpectKeepalive,
            "expect-notification" => {
                let code = number(arg()?)?;
                let subcode = number(arg()?)?;
                let opts = Options::parse(words);
                opts.check(&["data"])?;
                let data = opts.get("data").map(unhex).transpose()?;
                Step::ExpectNotification {
                    code,
                    subcode,
                    data,
                }
            }
            "expect-update" => {
                let opts = Options::parse(words);
                opts.check(&["announce", "withdraw", "attr", "flags", "no-attr"])?;
                Step::ExpectUpdate(opts)
            }
            "expect-update-count" => Step::ExpectUpdateCount(number(arg()?)?),
            "expect-quiet" => Step::ExpectQuiet(ms(arg()?)?),
            "expect-closed" => Step::ExpectClosed,
            "keepalives" => match arg()? {
                "on" => Step::Keepalives(true),
                "off" => Step::Keepalives(false),
                other => bail!("keepalives {other}: on or off"),
            },
            "sleep" => Step::Sleep(ms(arg()?)?),
            "close" => Step::Close,
            other => bail!("unknown command {other:?}"),
        })
    }
}
