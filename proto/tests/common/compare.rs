//! Whether two [`Outcome`]s of the same message agree.
//!
//! The rule: the strongest RFC 7606 verdict must be the same on both sides
//! (a message refused as a whole counts as a session reset). Then
//! - clean or attribute-discard: the whole summaries must be equal;
//! - treat-as-withdraw: the routes to withdraw must be equal;
//! - session reset: nothing more (what is left of the message is moot).
//!
//! Before that, each known and justified difference between the two codecs
//! (an [`Allowance`]) whose precondition holds on the raw message is taken
//! out of both sides. Preconditions look at the bytes on the wire (via
//! [`super::wire`]) and at the exact problem the other decoder reported, so
//! an allowance never covers a disagreement it does not name. Anything else
//! is a disagreement, returned as a description for the test to fail with.

use super::codec::bgp::Context;
use super::summary::{Outcome, Summary, UpdateSummary, Verdict};
use super::wire::{self, RawAttribute};

/// A known difference between hostroute and rustbgpd-wire 0.27, and why it
/// is allowed. See [`Allowance::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Allowance {}

impl Allowance {
    /// Every allowance, in the order they are applied.
    pub const ALL: &'static [Allowance] = &[];

    /// Why the difference is allowed, with the RFC text it rests on.
    pub fn reason(self) -> &'static str {
        match self {}
    }

    fn apply(self, _m: &Raw<'_>, _ours: &mut Outcome, _theirs: &mut Outcome) -> Applied {
        match self {}
    }
}

/// What applying an allowance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applied {
    /// Its precondition does not hold.
    No,
    /// It took the difference out of one or both sides; comparison goes on.
    Adjusted,
    /// It explains the whole difference (one side refused the message for
    /// a reason the allowance names); nothing is left to compare.
    Explained,
}

/// The message as the allowances see it.
struct Raw<'a> {
    ctx: &'a Context,
    attrs: Vec<RawAttribute>,
}

impl Raw<'_> {
    fn attribute(&self, type_code: u8) -> Option<&RawAttribute> {
        wire::first(&self.attrs, type_code)
    }
}

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
            if verdict == Verdict::TreatAsWithdraw {
                a.routes() == b.routes()
            } else {
                a == b
            }
        }
        (Outcome::Decoded { summary: a, .. }, Outcome::Decoded { summary: b, .. }) => {
            normalized(a) == normalized(b)
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

/// OPEN capabilities: a value only one side decodes is compared by code.
fn normalized(s: &Summary) -> Summary {
    s.clone()
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
