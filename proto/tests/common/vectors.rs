//! Golden vectors: `proto/tests/vectors/<implementation>/*.hex`.
//!
//! A vector is `#` comment lines, then the message as hex digits with any
//! whitespace. One comment describes the session, read tolerantly:
//!
//! ```text
//! # context: as4=true addpath_rx=ipv4-unicast addpath_tx=none extended_nexthop=ipv4-unicast/ipv6 extended_message=false
//! # scenario: iBGP over IPv6 ...
//! ```
//!
//! Unknown keys are ignored and missing ones take the value of a modern
//! eBGP session. The session is internal when the context says
//! `ibgp=true`, `external=false` or `session=ibgp`, or the `# scenario:`
//! line starts with "iBGP". A BGP message starts with the 16-byte marker;
//! anything else (a BFD packet) is not a BGP vector.

use std::path::{Path, PathBuf};

use super::codec::bgp::{Afi, AfiSafi, Context, MARKER, MAX_EXTENDED_MESSAGE_LEN};

/// One `.hex` file.
#[derive(Debug, Clone)]
pub struct Vector {
    pub path: PathBuf,
    pub ctx: Context,
    pub bytes: Vec<u8>,
}

impl Vector {
    /// Whether the bytes are a BGP message (they start with the marker).
    pub fn is_bgp(&self) -> bool {
        self.bytes.starts_with(&MARKER)
    }
}

/// Every `.hex` file under `root`, recursively, sorted by path.
pub fn read_all(root: &Path) -> Result<Vec<Vector>, String> {
    let mut files = Vec::new();
    collect(root, &mut files)?;
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (ctx, bytes) = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Vector { path, ctx, bytes })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "hex") {
            out.push(path);
        }
    }
    Ok(())
}

/// The session and the bytes of one vector's text.
pub fn parse(text: &str) -> Result<(Context, Vec<u8>), String> {
    let mut ctx = Context {
        max_message_len: MAX_EXTENDED_MESSAGE_LEN,
        ..Context::modern()
    };
    let mut digits = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(rest) = comment.strip_prefix("context:") {
                apply_context(&mut ctx, rest)?;
            } else if let Some(rest) = comment.strip_prefix("scenario:")
                && rest.trim_start().starts_with("iBGP")
            {
                ctx.external = false;
            }
        } else {
            digits.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let bytes = hex::decode(&digits).map_err(|e| format!("bad hex: {e}"))?;
    if bytes.is_empty() {
        return Err("no bytes".into());
    }
    Ok((ctx, bytes))
}

fn apply_context(ctx: &mut Context, text: &str) -> Result<(), String> {
    for pair in text.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim_matches(|c| c == '"' || c == ',' || c == ';');
        match key.to_ascii_lowercase().as_str() {
            "as4" | "four_octet_as" => ctx.four_octet_as = boolean(key, value)?,
            "addpath_rx" | "add_path_rx" => ctx.add_path_rx = families(value)?,
            "addpath_tx" | "add_path_tx" => ctx.add_path_tx = families(value)?,
            "extended_nexthop" | "extended_next_hop" | "enh" => {
                ctx.extended_next_hop = match value {
                    "true" | "yes" => Context::modern().extended_next_hop,
                    "false" | "no" | "none" | "" => Vec::new(),
                    list => list
                        .split([',', '+'])
                        .map(|item| {
                            let (family, next_hop) =
                                item.rsplit_once('/').unwrap_or((item, "ipv6"));
                            Ok((one_family(family)?, afi(next_hop)?))
                        })
                        .collect::<Result<_, String>>()?,
                };
            }
            "extended_message" => {
                ctx.max_message_len = if boolean(key, value)? {
                    MAX_EXTENDED_MESSAGE_LEN
                } else {
                    4096
                };
            }
            "ibgp" => ctx.external = !boolean(key, value)?,
            "external" | "ebgp" => ctx.external = boolean(key, value)?,
            "session" => ctx.external = !value.eq_ignore_ascii_case("ibgp"),
            _ => {}
        }
    }
    Ok(())
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        other => Err(format!("{key}={other}: not a boolean")),
    }
}

fn families(value: &str) -> Result<Vec<AfiSafi>, String> {
    if matches!(value, "none" | "" | "-") {
        return Ok(Vec::new());
    }
    value
        .split([',', '+'])
        .filter(|s| !s.is_empty())
        .map(one_family)
        .collect()
}

fn one_family(name: &str) -> Result<AfiSafi, String> {
    match name.to_ascii_lowercase().as_str() {
        "ipv4-unicast" | "ipv4_unicast" | "ipv4" => Ok(AfiSafi::IPV4_UNICAST),
        "ipv6-unicast" | "ipv6_unicast" | "ipv6" => Ok(AfiSafi::IPV6_UNICAST),
        other => {
            // "afi<n>/safi<m>" or "<n>/<m>"
            let (a, s) = other
                .split_once('/')
                .ok_or_else(|| format!("unknown family {other}"))?;
            let a: u16 = a
                .trim_start_matches("afi")
                .parse()
                .map_err(|_| other.to_string())?;
            let s: u8 = s
                .trim_start_matches("safi")
                .parse()
                .map_err(|_| other.to_string())?;
            Ok(AfiSafi::new(a, s))
        }
    }
}

fn afi(name: &str) -> Result<Afi, String> {
    match name.to_ascii_lowercase().as_str() {
        "ipv4" => Ok(Afi::Ipv4),
        "ipv6" => Ok(Afi::Ipv6),
        other => other
            .trim_start_matches("afi")
            .parse::<u16>()
            .map(Afi::from)
            .map_err(|_| format!("unknown AFI {other}")),
    }
}

/// What comparing a set of vectors found.
#[derive(Debug, Default)]
pub struct Report {
    /// BGP vectors compared.
    pub compared: usize,
    /// Vectors that are not BGP messages (BFD packets), left out.
    pub skipped: usize,
    /// How often each allowance was needed.
    pub allowances: std::collections::BTreeMap<super::allowance::Allowance, usize>,
    /// One line per vector on which the decoders disagree.
    pub failures: Vec<String>,
}

/// Runs both decoders on every BGP vector and compares what they made of it.
pub fn check_all(vectors: &[Vector]) -> Report {
    let mut report = Report::default();
    for v in vectors {
        if !v.is_bgp() {
            report.skipped += 1;
            continue;
        }
        report.compared += 1;
        let ours = super::hostroute::outcome(&v.bytes, &v.ctx);
        let theirs = super::rustbgpd::outcome(&v.bytes, &v.ctx);
        match super::compare::compare(&v.bytes, &v.ctx, &ours, &theirs) {
            Ok(agreement) => {
                for a in agreement.allowances {
                    *report.allowances.entry(a).or_default() += 1;
                }
            }
            Err(why) => report.failures.push(format!("{}: {why}", v.path.display())),
        }
    }
    report
}
