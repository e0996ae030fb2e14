//! The cases of `speaker_adversary.rs`, as data: what the raw peer sends
//! and what the speaker must answer.

use std::net::Ipv4Addr;

use serde_json::Value;

use super::{DUT, mp_reach_v6};

/// One case: what the raw peer sends (`{ip}` stands for its address),
/// and the NOTIFICATION (code, subcode, data if checked) the speaker must
/// answer with, if any.
pub struct Case {
    pub name: &'static str,
    body: String,
    expect: Option<(u8, u8)>,
    data: Option<String>,
}

fn case(name: &'static str, body: &str, expect: (u8, u8), data: Option<&str>) -> Case {
    Case {
        name,
        body: body.to_string(),
        expect: Some(expect),
        data: data.map(str::to_string),
    }
}

impl Case {
    pub fn body(&self, ip: Ipv4Addr) -> String {
        self.body.replace("{ip}", &ip.to_string())
    }

    /// The script lines that check the speaker's answer.
    pub fn expectation(&self) -> String {
        let Some((code, subcode)) = self.expect else {
            return "expect-closed".to_string();
        };
        let data = self.data.as_ref().map(|d| format!(" data={d}"));
        let data = data.unwrap_or_default();
        format!("expect-notification {code} {subcode}{data}\nexpect-closed")
    }
}

/// Connects from `ip`, waiting out the speaker's damping of that neighbor.
pub fn connect(ip: Ipv4Addr, retry_ms: u32) -> String {
    format!("connect {DUT} from={ip} retry={retry_ms}")
}

/// A correct session from `ip` up to the speaker's End-of-RIB markers
/// (IPv4 and IPv6 unicast), then closed.
pub fn correct_session(ip: Ipv4Addr) -> String {
    let connect = connect(ip, 8000);
    format!("{connect}\nwait-established id={ip}\nexpect-update-count 2\nclose\n")
}

/// RFC 4271 sections 4.4, 6.1, 6.2, 6.5 and 8, RFC 6608, RFC 7313, and
/// the OPEN shapes of CVE-2022-40302 / 40318 / 43681 (FRR) and RFC 9072.
pub fn session_cases() -> Vec<Case> {
    let up = "wait-established id={ip}";
    let confirm = "send-open id={ip}\nexpect-open\nexpect-keepalive";
    let mut refresh = "ff".repeat(16);
    refresh.push_str("001605000101");
    vec![
        case(
            "garbage-header",
            "send 0123456789abcdef0123456789abcdef001304",
            (1, 1),
            None,
        ),
        case(
            "wrong-marker",
            "send fffffffffffffffffffffffffffffffe001304",
            (1, 1),
            None,
        ),
        case(
            "header-length-18",
            "send-msg 4 len=18",
            (1, 2),
            Some("0012"),
        ),
        case(
            "header-length-4097",
            "send-msg 2 len=4097",
            (1, 2),
            Some("1001"),
        ),
        case("unknown-type-9", "send-msg 9", (1, 3), Some("09")),
        case("open-of-20-bytes", "send-msg 1 04", (1, 2), Some("0014")),
        case(
            "open-version-3",
            "send-open id={ip} version=3",
            (2, 1),
            Some("0004"),
        ),
        case("hold-time-1", "send-open id={ip} hold=1", (2, 6), None),
        case("hold-time-2", "send-open id={ip} hold=2", (2, 6), None),
        case("wrong-peer-as", "send-open id={ip} as=65099", (2, 2), None),
        case("bgp-id-0", "send-open id=0.0.0.0", (2, 3), None),
        // RFC 7607: AS 0 in My Autonomous System or in the 4-octet AS
        // capability.
        case("my-as-0", "send-open id={ip} as=0 caps=none", (2, 2), None),
        case(
            "four-octet-as-0",
            "send-open id={ip} params=0802064104_00000000",
            (2, 2),
            None,
        ),
        case(
            "keepalive-of-20-bytes",
            &format!("{up}\nsend-msg 4 00"),
            (1, 2),
            Some("0014"),
        ),
        case("keepalive-in-opensent", "send-keepalive", (5, 1), None),
        case(
            "update-in-opensent",
            "send-update announce=198.51.100.12/32",
            (5, 1),
            None,
        ),
        case(
            "update-in-openconfirm",
            &format!("{confirm}\nsend-update announce=198.51.100.13/32"),
            (5, 2),
            None,
        ),
        case(
            "open-in-openconfirm",
            &format!("{confirm}\nsend-open id={{ip}}"),
            (5, 2),
            None,
        ),
        case(
            "open-in-established",
            &format!("{up}\nsend-open id={{ip}}"),
            (5, 3),
            None,
        ),
        // RFC 7313 section 5: a BoRR of 3 bytes; the whole message goes
        // back as data.
        case(
            "borr-of-3-bytes",
            &format!("{up}\nsend-msg 5 000101"),
            (7, 1),
            Some(&refresh),
        ),
        // A plain ROUTE-REFRESH of 3 bytes: RFC 7313 leaves it to RFC 4271.
        case(
            "route-refresh-of-3-bytes",
            &format!("{up}\nsend-msg 5 000100"),
            (1, 2),
            Some("0016"),
        ),
        // RFC 4271 section 4.2: a peer that stops talking.
        case(
            "silent-peer",
            &format!("{up} hold=3\nkeepalives off\ntimeout 6000"),
            (4, 0),
            None,
        ),
        // RFC 4271 section 6.5: a NOTIFICATION is never answered.
        Case {
            name: "notification-from-peer",
            body: format!("{up}\nsend-msg 3 0602"),
            expect: None,
            data: None,
        },
        // RFC 4271 section 6.2 (RFC 5492 deprecates type 1): an optional
        // parameter other than Capabilities.
        case(
            "auth-parameter",
            "send-open id={ip} params=04010200_00",
            (2, 4),
            None,
        ),
        // Opt Parm Len 10 with 8 bytes after it.
        case(
            "cve-opt-len-past-end",
            "send-open id={ip} params=0a02060104000100_01",
            (2, 0),
            None,
        ),
        // A parameter of 10 bytes in 6.
        case(
            "cve-param-len-past-end",
            "send-open id={ip} params=08020a0104000100_01",
            (2, 0),
            None,
        ),
        // CVE-2022-43681: the parameter header cut at the end of the OPEN.
        case(
            "cve-param-header-at-end",
            "send-open id={ip} params=0102",
            (2, 0),
            None,
        ),
        // A 4-octet AS capability claiming 8 bytes in a 6-byte parameter.
        case(
            "cve-capability-overrun",
            "send-open id={ip} params=0802064108_0000fdea",
            (2, 0),
            None,
        ),
        // RFC 9072: extended length 0x20 over 9 bytes.
        case(
            "rfc9072-length-disagrees",
            "send-open id={ip} params=ffff0020_020006_0104000100_01",
            (2, 0),
            None,
        ),
        // RFC 9072: a parameter of 16 bytes in 6.
        case(
            "rfc9072-param-overrun",
            "send-open id={ip} params=ffff0009_020010_0104000100_01",
            (2, 0),
            None,
        ),
        // RFC 9072: the extended length itself cut short.
        case(
            "rfc9072-cut-short",
            "send-open id={ip} params=ffff00",
            (2, 0),
            None,
        ),
    ]
}

/// UPDATEs that end the session: RFC 7606 session reset and AFI/SAFI
/// disable (done by resetting), and RFC 4271 structural errors.
pub fn reset_cases() -> anyhow::Result<Vec<Case>> {
    let v6 = "2001:db8:7::30/128";
    let mp = mp_reach_v6(&[v6], "2001:db8::2", 16)?;
    let bad_nh = mp_reach_v6(&[v6], "2001:db8::2", 12)?;
    let bad_nh_attr = format!("900e{:04x}{bad_nh}", bad_nh.len() / 2);
    let unreach = format!("00020181{}", "20010db8000700000000000000000030ff");
    let update = |s: &str| format!("send-update {s}");
    Ok(vec![
        // RFC 7606 section 3 g.
        case(
            "duplicate MP_REACH_NLRI",
            &update(&format!("announce={v6} raw=90:0e:{mp}")),
            (3, 1),
            Some(""),
        ),
        // RFC 4271 section 6.3: an unrecognized well-known attribute, sent
        // back as data.
        case(
            "unrecognized well-known 0x63",
            &update("announce=198.51.100.31/32 raw=40:63:00"),
            (3, 2),
            Some("40630100"),
        ),
        // RFC 7606 section 7.11: AFI/SAFI disable, which this speaker does
        // by resetting, with the attribute as data.
        case(
            "MP_REACH next hop of 12 bytes",
            &update(&format!("raw=90:0e:{bad_nh}")),
            (3, 9),
            Some(&bad_nh_attr),
        ),
        // RFC 7606 section 3 j: an MP_REACH_NLRI cut off by the end of the
        // attribute list cannot be parsed, so its prefixes cannot be
        // withdrawn: AFI/SAFI disable, not treat-as-withdraw.
        case(
            "MP_REACH overrunning the list",
            &update(&format!("raw-tail=900e0040{mp}")),
            (3, 1),
            Some(""),
        ),
        // RFC 4271 section 6.3, RFC 7606 section 5.3.
        case(
            "NLRI prefix length 33",
            &update("announce=198.51.100.33/32 nlri-raw=21c633640700"),
            (3, 10),
            None,
        ),
        case(
            "withdrawn length overrun",
            "send-msg 2 00ff0000",
            (3, 1),
            None,
        ),
        case(
            "withdrawn prefix length 33",
            "send-msg 2 0006_21c633640700_0000",
            (3, 10),
            None,
        ),
        // RFC 7606 section 5.3: an IPv6 prefix of length 129 in
        // MP_UNREACH_NLRI; section 7.11, AFI/SAFI disable by a reset.
        case(
            "MP_UNREACH prefix length 129",
            &update(&format!("raw=90:0f:{unreach}")),
            (3, 9),
            Some(&format!("900f{:04x}{unreach}", unreach.len() / 2)),
        ),
    ])
}

/// RFC 7606 treat-as-withdraw on an Established session: (what, the
/// `send-update` options that break the UPDATE, the attribute's type).
pub fn withdraw_cases() -> Vec<(&'static str, &'static str, u8)> {
    vec![
        // Sections 7.1-7.4, 7.8: malformed well-known and MED, COMMUNITIES.
        ("ORIGIN 5", "omit=1 raw=40:01:05", 1),
        ("AS_PATH segment cut short", "omit=2 raw=40:02:0201", 2),
        ("NEXT_HOP of 3 bytes", "omit=3 raw=40:03:c00002", 3),
        ("COMMUNITIES of 3 bytes", "raw=c0:08:fde801", 8),
        ("MED of 3 bytes", "raw=80:04:000005", 4),
        // Section 4: the overrun, with the NLRI still located.
        (
            "COMMUNITIES overrunning the list",
            "raw-tail=c0080800000001",
            8,
        ),
        // Section 3 c: wrong Optional bit on a well-known attribute.
        ("ORIGIN flagged optional", "omit=1 raw=c0:01:00", 1),
        // Section 3 c: a flag conflict is treat-as-withdraw even where a
        // bad value would only be discarded (sections 7.6, 7.7 cover values).
        (
            "AGGREGATOR flagged well-known",
            "raw=40:07:0000fdeac000020a",
            7,
        ),
        // Section 7.14, RFC 8092 section 6. (ORIGINATOR_ID and CLUSTER_LIST
        // from this external peer are discarded: sections 7.9, 7.10.)
        (
            "EXTENDED_COMMUNITIES of 7 bytes",
            "raw=c0:10:00020000fdea00",
            16,
        ),
        (
            "LARGE_COMMUNITIES of 13 bytes",
            "raw=c0:20:0000fdea000000010000000200",
            32,
        ),
        // Section 3 d: a missing well-known mandatory attribute.
        ("ORIGIN missing", "omit=1", 1),
        ("AS_PATH missing", "omit=2", 2),
        ("NEXT_HOP missing", "omit=3", 3),
    ]
}

/// One RFC 7606 attribute-discard case: the route stays, and `kept`
/// checks its attributes in the speaker's RIB.
pub struct Discard {
    pub what: &'static str,
    pub bad: &'static str,
    pub type_code: u8,
    pub kept: fn(&Value) -> bool,
}

/// Attribute discard (sections 3 g, 7.5-7.7, RFC 6793 section 6), each
/// sent with `aggregator=65002:192.0.2.10 atomic-aggregate` unless it
/// replaces one of them.
pub fn discard_cases() -> Vec<Discard> {
    vec![
        Discard {
            what: "AGGREGATOR of 7 bytes",
            bad: "atomic-aggregate raw=c0:07:0000fdeac00002",
            type_code: 7,
            kept: |a| a["aggregator"].is_null() && a["atomic_aggregate"] == true,
        },
        // Sections 7.9 and 7.10: from an external peer, discarded.
        Discard {
            what: "ORIGINATOR_ID of 3 bytes from an external peer",
            bad: "aggregator=65002:192.0.2.10 atomic-aggregate raw=80:09:c00002",
            type_code: 9,
            kept: |a| a["originator_id"].is_null() && !a["aggregator"].is_null(),
        },
        Discard {
            what: "CLUSTER_LIST of 3 bytes from an external peer",
            bad: "aggregator=65002:192.0.2.10 atomic-aggregate raw=80:0a:c00002",
            type_code: 10,
            kept: |a| a["cluster_list"] == serde_json::json!([]) && !a["aggregator"].is_null(),
        },
        Discard {
            what: "ATOMIC_AGGREGATE of 1 byte",
            bad: "aggregator=65002:192.0.2.10 raw=40:06:01",
            type_code: 6,
            kept: |a| !a["aggregator"].is_null() && a["atomic_aggregate"] == false,
        },
        Discard {
            what: "AS4_PATH segment cut short",
            bad: "aggregator=65002:192.0.2.10 atomic-aggregate raw=c0:11:0201000000",
            type_code: 17,
            kept: |a| !a["aggregator"].is_null() && a["atomic_aggregate"] == true,
        },
        Discard {
            what: "LOCAL_PREF from an external peer",
            bad: "aggregator=65002:192.0.2.10 atomic-aggregate raw=40:05:000000c8",
            type_code: 5,
            kept: |a| a["local_pref"].is_null() && !a["aggregator"].is_null(),
        },
        Discard {
            what: "a second COMMUNITIES",
            bad: "aggregator=65002:192.0.2.10 atomic-aggregate raw=c0:08:fde80063",
            type_code: 8,
            kept: |a| a["communities"].as_array().is_some_and(|c| c.len() == 1),
        },
    ]
}

pub fn has_community(attrs: &Value, asn: u16, value: u16) -> bool {
    let c = (u32::from(asn) << 16) | u32::from(value);
    attrs["communities"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.as_u64() == Some(u64::from(c))))
}
