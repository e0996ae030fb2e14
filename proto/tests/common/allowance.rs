//! The known, justified differences between hostroute's decoder and
//! rustbgpd-wire 0.27, each with the RFC text it rests on, and how each is
//! taken out of a pair of outcomes before they are compared.
//!
//! An allowance states its precondition on the bytes on the wire (via
//! [`super::wire`]) and on the exact problem the other decoder reported, so
//! it never covers a disagreement it does not name. [`Side`] says who
//! departs from the RFCs as hostroute reads them: where it is hostroute
//! ([`Side::Ours`]), the reason says what the fix needs.

use super::codec::bgp::Context;
use super::summary::{Outcome, Problem, UpdateSummary, Verdict};
use super::wire::{self, RawAttribute};

/// Who departs from the RFCs as hostroute reads them, in an allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// rustbgpd does more than, or other than, the RFCs ask.
    Theirs,
    /// Both are right: a difference of scope or of layering.
    Neither,
    /// hostroute knowingly departs; the fix is pending (see the reason).
    Ours,
}

/// A known difference between hostroute and rustbgpd-wire 0.27, and why it
/// is allowed. See [`Allowance::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Allowance {
    UnrecognizedWellKnownResets,
    AttributeTypesBeyondHostroute,
    UnknownNonTransitiveKeptVerbatim,
    MpFamilyBeyondHostroute,
    Ipv6NextHopWithoutRfc8950,
    PartialBitOnNonTransitive,
    LocalPrefFromExternalKept,
    NextHopOptionalOnIbgp,
    AsSetDeprecated,
    ConfederationSegments,
    EmptyAs4Path,
    As4AttributesBetweenNewSpeakers,
    As4PathConfederationSegmentsDropped,
}

impl Allowance {
    /// Every allowance, in the order they are applied.
    pub const ALL: &'static [Allowance] = &[
        Allowance::UnrecognizedWellKnownResets,
        Allowance::UnknownNonTransitiveKeptVerbatim,
        Allowance::AttributeTypesBeyondHostroute,
        Allowance::MpFamilyBeyondHostroute,
        Allowance::Ipv6NextHopWithoutRfc8950,
        Allowance::PartialBitOnNonTransitive,
        Allowance::LocalPrefFromExternalKept,
        Allowance::NextHopOptionalOnIbgp,
        Allowance::AsSetDeprecated,
        Allowance::ConfederationSegments,
        Allowance::EmptyAs4Path,
        Allowance::As4AttributesBetweenNewSpeakers,
        Allowance::As4PathConfederationSegmentsDropped,
    ];

    pub fn side(self) -> Side {
        use Allowance as A;
        match self {
            A::UnrecognizedWellKnownResets
            | A::AttributeTypesBeyondHostroute
            | A::PartialBitOnNonTransitive
            | A::LocalPrefFromExternalKept
            | A::NextHopOptionalOnIbgp => Side::Theirs,
            A::UnknownNonTransitiveKeptVerbatim
            | A::MpFamilyBeyondHostroute
            | A::Ipv6NextHopWithoutRfc8950
            | A::As4PathConfederationSegmentsDropped
            | A::As4AttributesBetweenNewSpeakers => Side::Neither,
            A::AsSetDeprecated | A::ConfederationSegments | A::EmptyAs4Path => Side::Ours,
        }
    }

    /// Why the difference is allowed, with the RFC text it rests on.
    pub fn reason(self) -> &'static str {
        use Allowance as A;
        match self {
            A::UnrecognizedWellKnownResets => {
                "An attribute of a type hostroute does not know, with the Optional bit \
                 clear, claims to be well-known: RFC 4271 section 6.3 answers with the \
                 Unrecognized Well-known Attribute NOTIFICATION, and RFC 7606 does not \
                 revise that case (its section 3 c covers flag conflicts of attributes \
                 whose flags are specified), so hostroute resets the session. rustbgpd \
                 keeps the attribute and its validate module asks for treat-as-withdraw."
            }
            A::AttributeTypesBeyondHostroute => {
                "rustbgpd implements attribute types hostroute does not (PMSI tunnel 22, \
                 tunnel encapsulation 23, IPv6 extended communities 25, AIGP 26, BGP-LS \
                 29, BGPsec 33, community container 34, Only-to-Customer 35, prefix SID \
                 40, ATTR_SET 128 and the other IANA-assigned types up to 42) and judges \
                 their flags and values. hostroute handles them as unrecognized \
                 attributes, RFC 4271 section 5: optional transitive ones are kept and \
                 passed on, and it cannot find them malformed."
            }
            A::UnknownNonTransitiveKeptVerbatim => {
                "RFC 4271 section 5: an unrecognized optional non-transitive attribute is \
                 quietly ignored and not passed along. rustbgpd drops it while decoding \
                 (also the IANA-assigned types it does not implement, such as AIGP 26); \
                 hostroute's codec keeps its bytes so that a message re-encodes exactly, \
                 and its speaker drops it when it builds routes. Both ignore it."
            }
            A::MpFamilyBeyondHostroute => {
                "hostroute decodes MP_REACH_NLRI and MP_UNREACH_NLRI of IPv4 and IPv6 \
                 unicast only and keeps other families opaque: it never negotiates them \
                 (RFC 4760 section 6), so their routes are ignored. rustbgpd decodes more \
                 families and refuses (session reset, RFC 4760 section 7) an MP attribute \
                 of a family it does not know or whose NLRI it finds malformed."
            }
            A::Ipv6NextHopWithoutRfc8950 => {
                "An IPv6 next hop (16 or 32 octets) for IPv4 NLRI in MP_REACH_NLRI is \
                 defined by RFC 8950, whose section 4 lets a speaker send one only to \
                 a peer that advertised the Extended Next Hop capability. hostroute \
                 accepts it only where the capability was exchanged; otherwise the \
                 next hop length is inconsistent with the AFI (RFC 7606 section 7.11: \
                 AFI/SAFI disable). rustbgpd accepts it from any peer. The RFCs leave \
                 the receiver this choice."
            }
            A::PartialBitOnNonTransitive => {
                "RFC 4271 section 4.3 tells the sender to clear the Partial bit on \
                 optional non-transitive attributes; RFC 7606 section 3 c makes only an \
                 Optional or Transitive conflict malformed, so hostroute ignores a stray \
                 Partial bit. rustbgpd treats it as an Attribute Flags Error (treat-as-\
                 withdraw for MULTI_EXIT_DISC, ORIGINATOR_ID and CLUSTER_LIST, a session \
                 reset for MP_REACH_NLRI and MP_UNREACH_NLRI)."
            }
            A::LocalPrefFromExternalKept => {
                "RFC 7606 section 7.5: LOCAL_PREF from an external neighbor SHALL be \
                 discarded (attribute discard), which hostroute does while decoding. \
                 rustbgpd's decoder keeps it and leaves the discard to its session layer."
            }
            A::NextHopOptionalOnIbgp => {
                "RFC 4271 section 5 makes NEXT_HOP well-known mandatory in an UPDATE that \
                 announces NLRI in its NLRI field (RFC 4760 relaxes that only for routes \
                 in MP_REACH_NLRI), for internal and external peers alike, and RFC 7606 \
                 section 3 d asks for treat-as-withdraw when it is missing. rustbgpd's \
                 validate module requires it from external peers only."
            }
            A::AsSetDeprecated => {
                "RFC 9774 (2025, updating RFC 4271) deprecates AS_SET and AS_CONFED_SET: \
                 a receiver treats an UPDATE carrying them in AS_PATH or AS4_PATH as \
                 withdrawn, as rustbgpd does. hostroute still decodes them as RFC 4271 \
                 and RFC 5065 define them. Adopting RFC 9774 changes what the codec \
                 accepts and needs the round-trip generator in proptests.rs (which builds \
                 AS_SET and AS_CONFED_SET segments and expects no problem) changed with it."
            }
            A::ConfederationSegments => {
                "RFC 5065 section 5: AS_CONFED_SEQUENCE or AS_CONFED_SET from a neighbor \
                 outside the speaker's confederation makes AS_PATH malformed (treat-as-\
                 withdraw, RFC 7606 section 7.2). hostroute is in no confederation, so \
                 that is every neighbor, as rustbgpd (no confederation support: segment \
                 type 3 is unknown to it) behaves; hostroute's codec decodes the segments. \
                 The fix needs a confederation notion in Context and the round-trip \
                 generator (which builds confederation segments) changed with it."
            }
            A::EmptyAs4Path => {
                "RFC 6793 section 6: an AS4_PATH shorter than 6 octets is malformed \
                 (attribute discard), as rustbgpd reports. hostroute decodes an empty \
                 AS4_PATH as an empty path, which merges to the same AS path, so routes \
                 are the same; only the verdict is missing. The fix needs the \
                 round-trip generator (whose as4_path() may be empty) changed."
            }
            A::As4PathConfederationSegmentsDropped => {
                "RFC 6793 section 6: confederation segments in AS4_PATH are discarded, \
                 the rest of the attribute is used, and the case SHOULD be logged. Both \
                 codecs drop the segments and merge the same path; rustbgpd reports the \
                 removal as an attribute-discard verdict (its way to have it logged), \
                 hostroute's codec, which neither logs nor discards the attribute, \
                 reports nothing."
            }
            A::As4AttributesBetweenNewSpeakers => {
                "RFC 6793 section 4.1: a NEW speaker MUST discard AS4_PATH and \
                 AS4_AGGREGATOR received from a NEW speaker. rustbgpd reports that \
                 discard as a verdict while decoding; hostroute's codec keeps the \
                 attributes without one and its speaker ignores them in a 4-octet \
                 session (the summary does the same). Reporting the discard in the codec \
                 would need the round-trip generator, which builds AS4 attributes in \
                 4-octet sessions and expects them back, changed."
            }
        }
    }

    pub(super) fn apply(self, m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
        use Allowance as A;
        match self {
            A::UnrecognizedWellKnownResets => unrecognized_well_known(m, ours, theirs),
            A::AttributeTypesBeyondHostroute => types_beyond_hostroute(m, ours, theirs),
            A::UnknownNonTransitiveKeptVerbatim => unknown_non_transitive(m, ours, theirs),
            A::MpFamilyBeyondHostroute => mp_family_beyond_hostroute(m, ours, theirs),
            A::Ipv6NextHopWithoutRfc8950 => ipv6_next_hop_without_rfc8950(m, ours),
            A::PartialBitOnNonTransitive => partial_bit(m, ours, theirs),
            A::LocalPrefFromExternalKept => local_pref_from_external(m, ours, theirs),
            A::NextHopOptionalOnIbgp => next_hop_on_ibgp(m, ours, theirs),
            A::AsSetDeprecated => as_set(m, ours, theirs),
            A::ConfederationSegments => confederation(m, ours, theirs),
            A::EmptyAs4Path => empty_as4_path(m, ours, theirs),
            A::As4AttributesBetweenNewSpeakers => as4_between_new_speakers(m, ours, theirs),
            A::As4PathConfederationSegmentsDropped => as4_confederation_segments(m, theirs),
        }
    }
}

/// Attribute types hostroute's codec decodes.
const OURS_KNOWN: &[u8] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32];

/// Attribute types rustbgpd-wire 0.27 registers and hostroute does not
/// (its `expected_flags` and `assigned_unsupported_flags`).
const THEIRS_ONLY: &[u8] = &[
    22, 23, 24, 25, 26, 27, 29, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 128,
];

/// What applying an allowance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Applied {
    /// Its precondition does not hold.
    No,
    /// It took the difference out of one or both sides; comparison goes on.
    Adjusted,
    /// It explains the whole difference (one side refused the message for
    /// a reason the allowance names); nothing is left to compare.
    Explained,
}

fn applied(any: bool) -> Applied {
    if any { Applied::Adjusted } else { Applied::No }
}

/// Removes the problems `drop` selects; whether any was removed.
fn remove_problems(o: &mut Outcome, drop: impl Fn(&Problem) -> bool) -> bool {
    let Some(problems) = o.problems_mut() else {
        return false;
    };
    let before = problems.len();
    problems.retain(|p| !drop(p));
    problems.len() != before
}

fn has_problem(o: &Outcome, type_code: u8) -> bool {
    o.problems().iter().any(|p| p.type_code == type_code)
}

/// Whether `o` found an attribute of `type_code` malformed (a repeat,
/// discarded, does not count).
fn malformed(o: &Outcome, type_code: u8) -> bool {
    o.problems()
        .iter()
        .any(|p| p.type_code == type_code && p.verdict >= Verdict::TreatAsWithdraw)
}

/// Applies `f` to both summaries (when both decoded an UPDATE).
fn both(ours: &mut Outcome, theirs: &mut Outcome, f: impl Fn(&mut UpdateSummary)) {
    for o in [ours, theirs] {
        if let Some(u) = o.update_mut() {
            f(u);
        }
    }
}

/// rustbgpd's report of an attribute overrunning the attribute list (RFC
/// 7606 section 4), which no allowance about the attribute's type covers.
fn overrun(p: &Problem) -> bool {
    [
        "value truncated",
        "truncated attribute length",
        "truncated extended-length attribute",
        "truncated attribute header",
    ]
    .iter()
    .any(|w| p.what.contains(w))
}

fn rejected_for(o: &Outcome, words: &[&str]) -> bool {
    matches!(o, Outcome::Rejected { what, .. } if words.iter().any(|w| what.contains(w)))
}

fn unrecognized_well_known(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    let types: Vec<u8> = ours
        .problems()
        .iter()
        .filter(|p| p.what == "unrecognized well-known attribute")
        .map(|p| p.type_code)
        .filter(|t| !OURS_KNOWN.contains(t) && m.attribute(*t).is_some_and(|a| !a.optional()))
        .collect();
    if types.is_empty() {
        return Applied::No;
    }
    remove_problems(ours, |p| p.what == "unrecognized well-known attribute");
    remove_problems(theirs, |p| {
        types.contains(&p.type_code) && !overrun(p) && !p.what.contains("duplicate attribute type")
    });
    both(ours, theirs, |u| {
        u.unknown.retain(|(t, _)| !types.contains(t))
    });
    Applied::Adjusted
}

fn types_beyond_hostroute(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    let entries = |o: &Outcome, t: u8| -> Vec<Vec<u8>> {
        o.update()
            .map(|u| {
                u.unknown
                    .iter()
                    .filter(|(x, _)| *x == t)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Only the types on which the two actually differ.
    let differ: Vec<u8> = m
        .attrs
        .iter()
        .map(|a| a.type_code)
        .filter(|t| THEIRS_ONLY.contains(t))
        .filter(|t| {
            entries(ours, *t) != entries(theirs, *t)
                || theirs
                    .problems()
                    .iter()
                    .any(|p| p.type_code == *t && !overrun(p))
        })
        .collect();
    if differ.is_empty() {
        return Applied::No;
    }
    remove_problems(theirs, |p| differ.contains(&p.type_code) && !overrun(p));
    both(ours, theirs, |u| {
        u.unknown.retain(|(t, _)| !differ.contains(t))
    });
    Applied::Adjusted
}

fn unknown_non_transitive(m: &Raw<'_>, ours: &mut Outcome, theirs: &Outcome) -> Applied {
    // The first of each type: both discard the repeats (RFC 7606 section 3 g).
    let quiet: Vec<u8> = m
        .attrs
        .iter()
        .enumerate()
        .filter(|(i, a)| m.attrs.iter().position(|b| b.type_code == a.type_code) == Some(*i))
        .map(|(_, a)| a)
        .filter(|a| a.optional() && !a.transitive() && !OURS_KNOWN.contains(&a.type_code))
        .map(|a| a.type_code)
        .filter(|t| {
            theirs
                .update()
                .is_some_and(|u| !u.unknown.iter().any(|(x, _)| x == t))
        })
        .collect();
    let Some(u) = ours.update_mut() else {
        return Applied::No;
    };
    let before = u.unknown.len();
    u.unknown.retain(|(t, _)| !quiet.contains(t));
    applied(u.unknown.len() != before)
}

fn mp_family_beyond_hostroute(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    // MP_REACH_NLRI / MP_UNREACH_NLRI (the first of each: a repeat is a
    // reset on both sides) of a family other than IPv4 or IPv6 unicast.
    let other: Vec<u8> = [14, 15]
        .into_iter()
        .filter(|t| {
            m.attribute(*t)
                .and_then(|a| wire::mp_family(&a.value))
                .is_some_and(|f| !matches!(f, (1 | 2, 1)))
        })
        .collect();
    if other.is_empty() {
        return Applied::No;
    }
    let words: Vec<String> = other.iter().map(|t| format!("attribute {t}:")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if ours.verdict() != Verdict::SessionReset && rejected_for(theirs, &words) {
        return Applied::Explained;
    }
    applied(remove_problems(theirs, |p| other.contains(&p.type_code)))
}

fn ipv6_next_hop_without_rfc8950(m: &Raw<'_>, ours: &Outcome) -> Applied {
    let negotiated = m
        .ctx
        .extended_next_hop
        .iter()
        .any(|(f, nh)| u16::from(f.afi) == 1 && u8::from(f.safi) == 1 && u16::from(*nh) == 2);
    let ipv4_with_ipv6_next_hop = m
        .attribute(14)
        .is_some_and(|a| matches!(a.value.as_slice(), [0, 1, 1, 16 | 32, ..]));
    let refused = ours.problems().iter().any(|p| {
        p.type_code == 14 && p.verdict == Verdict::SessionReset && p.what.contains("next hop of")
    });
    if negotiated || !ipv4_with_ipv6_next_hop || !refused {
        return Applied::No;
    }
    Applied::Explained
}

fn partial_bit(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    let stray: Vec<u8> = m
        .attrs
        .iter()
        .filter(|a| {
            matches!(a.type_code, 4 | 9 | 10 | 14 | 15)
                && a.partial()
                && a.optional()
                && !a.transitive()
        })
        .map(|a| a.type_code)
        .collect();
    if stray.is_empty() {
        return Applied::No;
    }
    if ours.verdict() != Verdict::SessionReset
        && stray.iter().any(|t| matches!(t, 14 | 15))
        && rejected_for(theirs, &["attribute 14:", "attribute 15:"])
        && rejected_for(theirs, &["flags"])
    {
        return Applied::Explained;
    }
    let any = remove_problems(theirs, |p| {
        stray.contains(&p.type_code) && p.what.contains("flags")
    });
    if any {
        both(ours, theirs, |u| {
            for t in &stray {
                match t {
                    4 => u.med = None,
                    9 => u.originator_id = None,
                    10 => u.cluster_list = None,
                    _ => {}
                }
            }
        });
    }
    applied(any)
}

fn local_pref_from_external(m: &Raw<'_>, ours: &Outcome, theirs: &mut Outcome) -> Applied {
    let discarded = ours
        .problems()
        .iter()
        .any(|p| p.type_code == 5 && p.what.starts_with("LOCAL_PREF from an external peer"));
    let kept = theirs.update().is_some_and(|u| u.local_pref.is_some());
    if !(m.ctx.external && discarded && kept) {
        return Applied::No;
    }
    remove_problems(theirs, |p| p.type_code == 5);
    if let Some(u) = theirs.update_mut() {
        u.local_pref = None;
    }
    if let Some(problems) = theirs.problems_mut() {
        problems.push(Problem {
            type_code: 5,
            verdict: Verdict::AttributeDiscard,
            what: "LOCAL_PREF from an external peer (allowance)".into(),
        });
    }
    Applied::Adjusted
}

fn next_hop_on_ibgp(m: &Raw<'_>, ours: &Outcome, theirs: &mut Outcome) -> Applied {
    let missing = ours
        .problems()
        .iter()
        .any(|p| p.type_code == 3 && p.what.contains("missing"));
    let theirs_missing = theirs
        .problems()
        .iter()
        .any(|p| p.type_code == 3 && p.what.contains("missing"));
    if m.ctx.external || !missing || theirs_missing || m.attribute(3).is_some() {
        return Applied::No;
    }
    let Some(problems) = theirs.problems_mut() else {
        return Applied::No;
    };
    problems.push(Problem {
        type_code: 3,
        verdict: Verdict::TreatAsWithdraw,
        what: "NEXT_HOP missing (allowance)".into(),
    });
    Applied::Adjusted
}

/// Segment types in every AS_PATH (width per session) or AS4_PATH on the
/// wire, up to the first segment that is cut short: what rustbgpd scans for
/// prohibited segments, duplicates included.
fn segment_kinds(m: &Raw<'_>, type_code: u8) -> Vec<u8> {
    let width = if type_code == 2 && !m.ctx.four_octet_as {
        2
    } else {
        4
    };
    m.attrs
        .iter()
        .filter(|a| a.type_code == type_code)
        .flat_map(|a| wire::leading_segments(&a.value, width))
        .map(|(kind, _)| kind)
        .collect()
}

fn as_set(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    let mut any = false;
    for type_code in [2, 17] {
        let kinds = segment_kinds(m, type_code);
        // A malformed AS_PATH is treat-as-withdraw on both sides anyway.
        if !kinds.iter().any(|k| matches!(k, 1 | 4)) || (type_code == 2 && malformed(ours, 2)) {
            continue;
        }
        let removed = remove_problems(theirs, |p| {
            p.type_code == type_code && p.what.contains("prohibited AS path segment type")
        });
        any |= removed;
        // rustbgpd then drops an AS_PATH holding AS_CONFED_SET (so reports
        // it missing) and any AS4_PATH (which changes the path a 2-octet
        // session merges): the paths are not comparable.
        if removed && type_code == 2 && kinds.contains(&4) {
            remove_problems(theirs, |p| {
                p.type_code == 2 && p.what.starts_with("validate")
            });
            both(ours, theirs, |u| u.as_path = None);
        }
        if removed && type_code == 17 && !m.ctx.four_octet_as {
            both(ours, theirs, |u| u.as_path = None);
        }
    }
    applied(any)
}

fn confederation(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    if !segment_kinds(m, 2).contains(&3) || malformed(ours, 2) {
        return Applied::No;
    }
    let removed = remove_problems(theirs, |p| {
        p.type_code == 2
            && (p.what.ends_with("unknown AS_PATH segment type 3")
                || p.what.starts_with("validate"))
    });
    if removed {
        both(ours, theirs, |u| u.as_path = None);
    }
    applied(removed)
}

fn empty_as4_path(m: &Raw<'_>, ours: &Outcome, theirs: &mut Outcome) -> Applied {
    let empty = m.attribute(17).is_some_and(|a| a.value.is_empty());
    if !empty || has_problem(ours, 17) {
        return Applied::No;
    }
    applied(remove_problems(theirs, |p| {
        p.type_code == 17 && p.what.contains("AS4_PATH length")
    }))
}

fn as4_confederation_segments(m: &Raw<'_>, theirs: &mut Outcome) -> Applied {
    if !segment_kinds(m, 17).contains(&3) {
        return Applied::No;
    }
    applied(remove_problems(theirs, |p| {
        p.type_code == 17 && p.what.contains("AS_CONFED_SEQUENCE removed from AS4_PATH")
    }))
}

fn as4_between_new_speakers(m: &Raw<'_>, ours: &mut Outcome, theirs: &mut Outcome) -> Applied {
    if !m.ctx.four_octet_as || !m.attrs.iter().any(|a| matches!(a.type_code, 17 | 18)) {
        return Applied::No;
    }
    // Both ignore the attributes; whether one also found them malformed
    // (attribute discard either way) does not matter.
    let moot =
        |p: &Problem| matches!(p.type_code, 17 | 18) && p.verdict == Verdict::AttributeDiscard;
    let theirs_removed = remove_problems(theirs, moot);
    let ours_removed = remove_problems(ours, moot);
    applied(theirs_removed || ours_removed)
}

/// The message as the allowances see it.
pub(super) struct Raw<'a> {
    pub(super) ctx: &'a Context,
    pub(super) attrs: Vec<RawAttribute>,
}

impl Raw<'_> {
    fn attribute(&self, type_code: u8) -> Option<&RawAttribute> {
        wire::first(&self.attrs, type_code)
    }
}
