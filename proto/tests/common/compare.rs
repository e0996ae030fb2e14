//! Whether two [`Outcome`]s of the same message agree.
//!
//! The rule: the strongest RFC 7606 verdict must be the same on both sides
//! (a message refused as a whole counts as a session reset). Unless both
//! reset, the summaries must then be equal, routes included, leaving out
//! only the attributes that either side found malformed (treat-as-withdraw
//! or worse): one codec may keep a malformed attribute for observation.
//!
//! Before that, each known and justified difference between the two codecs
//! (an [`Allowance`]) whose precondition holds on the raw message is taken
//! out of both sides. Anything else is a disagreement, returned as a
//! description for the test to fail with.

use super::allowance::{Allowance, Applied, Raw};
use super::codec::bgp::Context;
use super::summary::{CapabilityValue, Outcome, Summary, UpdateSummary, Verdict};
use super::wire;

/// How two outcomes agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The verdict both sides reached (`SessionReset` for a refusal), or
    /// `None` when an allowance explained the whole difference.
    pub verdict: Option<Verdict>,
    /// Allowances that were needed, in order.
    pub allowances: Vec<Allowance>,
}

/// Compares what the two decoders made of `frame` in session `ctx`.
pub fn compare(
    frame: &[u8],
    ctx: &Context,
    ours: &Outcome,
    theirs: &Outcome,
) -> Result<Agreement, String> {
    let raw = Raw {
        ctx,
        attrs: if frame.get(18) == Some(&2) {
            wire::attributes(frame)
        } else {
            Vec::new()
        },
    };
    let (mut o, mut t) = (ours.clone(), theirs.clone());
    let mut allowances = Vec::new();
    for &a in Allowance::ALL {
        match a.apply(&raw, &mut o, &mut t) {
            Applied::No => {}
            Applied::Adjusted => allowances.push(a),
            Applied::Explained => {
                allowances.push(a);
                return Ok(Agreement {
                    verdict: None,
                    allowances,
                });
            }
        }
    }
    let verdict = o.verdict();
    let fail = |why: String| {
        Err(format!(
            "{why}: ours {}, theirs {}\n  after allowances {allowances:?}: ours {}, theirs {}",
            describe(ours),
            describe(theirs),
            describe(&o),
            describe(&t)
        ))
    };
    if verdict != t.verdict() {
        return fail(format!(
            "verdicts differ: ours {verdict:?}, theirs {:?}",
            t.verdict()
        ));
    }
    let agree = match (&o, &t) {
        _ if verdict == Verdict::SessionReset => true,
        (
            Outcome::Decoded {
                summary: Summary::Update(a),
                ..
            },
            Outcome::Decoded {
                summary: Summary::Update(b),
                ..
            },
        ) => {
            // Attributes either side found malformed are left out (one may
            // keep a malformed attribute for observation); the rest must
            // be equal, routes included.
            let (mut a, mut b) = (a.as_ref().clone(), b.as_ref().clone());
            for p in o.problems().iter().chain(t.problems()) {
                if p.verdict >= Verdict::TreatAsWithdraw {
                    blind(&mut a, p.type_code);
                    blind(&mut b, p.type_code);
                }
            }
            a == b
        }
        (Outcome::Decoded { summary: a, .. }, Outcome::Decoded { summary: b, .. }) => {
            let (mut a, mut b) = (a.clone(), b.clone());
            normalize_opens(&mut a, &mut b);
            a == b
        }
        _ => false,
    };
    if agree {
        Ok(Agreement {
            verdict: Some(verdict),
            allowances,
        })
    } else {
        let diff = match (o.update(), t.update()) {
            (Some(a), Some(b)) => differences(a, b).join("; "),
            _ => String::from("messages differ"),
        };
        fail(format!("summaries differ at {verdict:?}: {diff}"))
    }
}

/// Leaves the attribute of `type_code` out of a summary.
fn blind(u: &mut UpdateSummary, type_code: u8) {
    match type_code {
        1 => u.origin = None,
        2 | 17 => u.as_path = None,
        3 => u.next_hop = None,
        4 => u.med = None,
        5 => u.local_pref = None,
        6 => u.atomic_aggregate = false,
        7 | 18 => u.aggregator = None,
        8 => u.communities = None,
        9 => u.originator_id = None,
        10 => u.cluster_list = None,
        16 => u.extended_communities = None,
        32 => u.large_communities = None,
        // MP_REACH_NLRI and MP_UNREACH_NLRI: their routes are what a
        // withdrawal acts on, and their errors are never withdrawals.
        14 | 15 => {}
        t => u.unknown.retain(|(u, _)| *u != t),
    }
}

/// OPEN capabilities are compared by code, and by value where both
/// codecs decode the value (the other keeps it opaque); graceful restart
/// families by those rustbgpd can name (it skips the others).
fn normalize_opens(a: &mut Summary, b: &mut Summary) {
    let (Summary::Open(a), Summary::Open(b)) = (a, b) else {
        return;
    };
    for (x, y) in a.capabilities.iter_mut().zip(b.capabilities.iter_mut()) {
        if x.value.is_none() || y.value.is_none() {
            x.value = None;
            y.value = None;
        }
        for c in [x, y] {
            if let Some(CapabilityValue::GracefulRestart { families, .. }) = &mut c.value {
                families.retain(|(afi, safi, _)| {
                    rustbgpd_wire::Afi::from_u16(*afi).is_some()
                        && rustbgpd_wire::Safi::from_u8(*safi).is_some()
                });
            }
        }
    }
}

/// Names the fields in which two UPDATE summaries differ.
pub fn differences(a: &UpdateSummary, b: &UpdateSummary) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! field {
        ($($f:ident),*) => {
            $(if a.$f != b.$f {
                out.push(format!("{}: ours {:?} theirs {:?}", stringify!($f), a.$f, b.$f));
            })*
        };
    }
    field!(
        withdrawn,
        nlri,
        mp_reach,
        mp_unreach,
        origin,
        as_path,
        next_hop,
        med,
        local_pref,
        atomic_aggregate,
        aggregator,
        communities,
        extended_communities,
        large_communities,
        originator_id,
        cluster_list,
        unknown
    );
    out
}

/// The verdict and problems of an outcome, in one line, with numbers
/// replaced by `#` so that disagreements of one kind read alike.
pub fn describe(o: &Outcome) -> String {
    let text = match o {
        Outcome::Rejected {
            code,
            subcode,
            what,
        } => format!("rejected {code}/{subcode} ({what})"),
        Outcome::Decoded { problems, .. } => {
            let problems: Vec<String> = problems
                .iter()
                .map(|p| format!("type {} {:?}: {}", p.type_code, p.verdict, p.what))
                .collect();
            format!("{:?} [{}]", o.verdict(), problems.join("; "))
        }
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}
