//! Differential tests: hostroute's decoder against rustbgpd-wire 0.27, an
//! independent Rust BGP codec, on the same bytes and session.
//!
//! ```text
//!  proptests::update_in --emit--> frame --(edits)--> frame'
//!                                                      |
//!                     summary::ours(frame', ctx) ------+---- summary::theirs(frame', ctx)
//!                                                      v
//!                                   compare::compare: agree, agree after a named
//!                                   allowance, or a disagreement that fails the test
//! ```
//!
//! The neutral summary, the allowances (every known difference, with the
//! RFC text that justifies it) and the vector reader live in
//! `proto/tests/common/`, shared with `proto/tests/differential_vectors.rs`.
//! Each test prints what it compared (`cargo test -- --nocapture`).
#![cfg(test)]

use std::cell::RefCell;
use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestRunner};

use crate as codec;

#[path = "../../tests/common/mod.rs"]
mod common;

use super::proptests::update_in;
use super::{AfiSafi, Context, HEADER_LEN, Update};
use common::compare::{Agreement, Allowance, compare};
use common::summary::{Outcome, ours, theirs};

/// A session: 2- or 4-octet AS, ADD-PATH on both families or none, iBGP
/// or eBGP; IPv6 next hops for IPv4 and extended messages, as `update_in`
/// generates them.
fn session() -> impl Strategy<Value = Context> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(four, add_path, ibgp)| {
        let families = if add_path {
            vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
        } else {
            Vec::new()
        };
        Context {
            four_octet_as: four,
            add_path_rx: families.clone(),
            add_path_tx: families,
            max_message_len: 65535,
            external: !ibgp,
            ..Context::modern()
        }
    })
}

fn encode(ctx: &Context, u: &Update) -> Vec<u8> {
    let mut out = Vec::new();
    u.emit(ctx, &mut out)
        .expect("generated UPDATEs fit the session");
    out
}

/// Both decoders on one frame, compared.
fn check(frame: &[u8], ctx: &Context) -> (Outcome, Outcome, Result<Agreement, String>) {
    let (o, t) = (ours(frame, ctx), theirs(frame, ctx));
    let result = compare(frame, ctx, &o, &t);
    (o, t, result)
}

/// What a run compared, and every disagreement by kind.
#[derive(Default)]
struct Tally {
    cases: usize,
    verdicts: BTreeMap<String, usize>,
    allowances: BTreeMap<Allowance, usize>,
    /// First line of the disagreement -> (count, first example).
    disagreements: BTreeMap<String, (usize, String)>,
}

impl Tally {
    fn record(&mut self, frame: &[u8], ctx: &Context, result: Result<Agreement, String>) {
        self.cases += 1;
        match result {
            Ok(a) => {
                let key = a
                    .verdict
                    .map_or_else(|| "explained by an allowance".into(), |v| format!("{v:?}"));
                *self.verdicts.entry(key).or_default() += 1;
                for allowance in a.allowances {
                    *self.allowances.entry(allowance).or_default() += 1;
                }
            }
            Err(why) => {
                let kind = why.lines().next().unwrap_or_default().to_string();
                let entry = self.disagreements.entry(kind).or_insert_with(|| {
                    (
                        0,
                        format!(
                            "four_octet_as={} add_path={:?} external={}\n  frame {}\n  {why}",
                            ctx.four_octet_as,
                            ctx.add_path_rx,
                            ctx.external,
                            hex::encode(frame)
                        ),
                    )
                });
                entry.0 += 1;
            }
        }
    }

    fn finish(&self, name: &str, seed: u64) {
        eprintln!(
            "{name}: {} cases (PROPTEST_RNG_SEED={seed}); agreed at {:?}; allowances used {:?}",
            self.cases, self.verdicts, self.allowances
        );
        if !self.disagreements.is_empty() {
            let report: Vec<String> = self
                .disagreements
                .iter()
                .map(|(kind, (n, example))| format!("{n} x {kind}\n  e.g. {example}"))
                .collect();
            panic!(
                "{name}: {} unexplained disagreement kind(s) (repeat with PROPTEST_RNG_SEED={seed}):\n{}",
                self.disagreements.len(),
                report.join("\n\n")
            );
        }
    }
}

/// A runner of `cases` cases (`DIFF_CASES` overrides, for a longer soak),
/// seeded from `PROPTEST_RNG_SEED` or else at random; the seed is returned
/// so that a failure names the run to repeat.
fn runner(cases: u32) -> (TestRunner, u64) {
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    let cases = std::env::var("DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    };
    (TestRunner::new(config), seed)
}

#[test]
fn valid_updates_decode_alike_in_both_decoders() {
    let tally = RefCell::new(Tally::default());
    let (mut runner, seed) = runner(768);
    runner
        .run(&session().prop_flat_map(update_in), |(ctx, u)| {
            let frame = encode(&ctx, &u);
            let (o, _, result) = check(&frame, &ctx);
            prop_assert!(
                o.problems().iter().all(|p| p.what.contains("missing")),
                "{o:?}"
            );
            tally.borrow_mut().record(&frame, &ctx, result);
            Ok(())
        })
        .expect("generation");
    tally.into_inner().finish("valid UPDATEs", seed);
}

/// One edit of an UPDATE body.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Edit::Flip(i, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => any::<Index>().prop_map(Edit::Delete),
    ];
    vec(edit, 1..=3)
}

/// Applies `edits` to the body of `frame` and fixes the header's length, so
/// the edits reach the UPDATE decoders rather than the framing.
fn mutate(frame: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut body = frame[HEADER_LEN..].to_vec();
    for e in edits {
        match e {
            Edit::Flip(i, bit) if !body.is_empty() => {
                let at = i.index(body.len());
                body[at] ^= 1 << bit;
            }
            Edit::Set(i, b) if !body.is_empty() => {
                let at = i.index(body.len());
                body[at] = *b;
            }
            Edit::Insert(i, b) => body.insert(i.index(body.len() + 1), *b),
            Edit::Delete(i) if !body.is_empty() => {
                body.remove(i.index(body.len()));
            }
            _ => {}
        }
    }
    let len = u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX);
    let mut out = frame[..16].to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&body);
    out
}

#[test]
fn mutated_updates_decode_alike_in_both_decoders() {
    let tally = RefCell::new(Tally::default());
    let strategy = (session().prop_flat_map(update_in), edits());
    let (mut runner, seed) = runner(4096);
    runner
        .run(&strategy, |((ctx, u), edits)| {
            let frame = mutate(&encode(&ctx, &u), &edits);
            let (_, _, result) = check(&frame, &ctx);
            tally.borrow_mut().record(&frame, &ctx, result);
            Ok(())
        })
        .expect("generation");
    tally.into_inner().finish("mutated UPDATEs", seed);
}

/// Explains one frame: `DIFF_FRAME=<hex> DIFF_CONTEXT='as4=true ibgp=false'
/// cargo test -p hostroute-proto --lib inspect_one_frame -- --ignored --nocapture`.
#[test]
#[ignore = "a tool for investigating one disagreement"]
fn inspect_one_frame() {
    let hex = std::env::var("DIFF_FRAME").expect("DIFF_FRAME=<hex of a whole message>");
    let context = std::env::var("DIFF_CONTEXT").unwrap_or_default();
    let (ctx, frame) =
        common::vectors::parse(&format!("# context: {context}\n{hex}")).expect("vector");
    eprintln!("{ctx:?}");
    for a in common::wire::attributes(&frame) {
        eprintln!(
            "  attribute flags {:#04x} type {} value {}",
            a.flags,
            a.type_code,
            hex::encode(&a.value)
        );
    }
    let (o, t, result) = check(&frame, &ctx);
    eprintln!("ours:   {o:?}\ntheirs: {t:?}\n=> {result:?}");
}
