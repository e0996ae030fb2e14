//! Bytes the raw peer sends (OPEN and UPDATE from script options, malformed
//! on request) and the JSON lines it prints for what it receives.

use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, Result, anyhow, bail};
use ipnet::IpNet;
use proto::bgp::{
    AfiSafi, Aggregator, AsPath, AttributeValue, Capability, Community, Context, HoldTime, MARKER,
    Message, MpNextHop, MpReach, MpUnreach, Nlri, Open, Origin, PathAttribute, Update,
};
use serde_json::{Value, json};

use super::peer::Event;
use super::{Options, hex, number, unhex};

/// An OPEN from options; values an OPEN may not carry (version 3, hold
/// 1, identifier 0) are written as given. The bytes, the OPEN as the
/// codec sees it (for the session context) and the hold time sent.
pub(crate) fn open(opts: &Options) -> Result<(Vec<u8>, Open, u16)> {
    let asn: u32 = opts.get("as").map_or(Ok(65002), number)?;
    let hold: u16 = opts.get("hold").map_or(Ok(30), number)?;
    let id: Ipv4Addr = opts.get("id").unwrap_or("192.0.2.2").parse()?;
    let version: u8 = opts.get("version").map_or(Ok(4), number)?;
    let caps = match opts.get("caps").unwrap_or("std") {
        "std" => vec![
            Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
            Capability::MultiProtocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(asn),
        ],
        "two-octet" => vec![
            Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
            Capability::MultiProtocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
        ],
        "none" => Vec::new(),
        other => bail!("caps={other}: std, two-octet or none"),
    };
    let open = Open::new(asn, HoldTime::DEFAULT, id, caps);
    let params = match opts.get("params") {
        Some(h) => unhex(h)?,
        None => open
            .to_bytes_params()
            .ok_or_else(|| anyhow!("OPEN does not encode"))?,
    };
    let mut body = vec![version];
    body.extend_from_slice(&open.my_as.to_be_bytes());
    body.extend_from_slice(&hold.to_be_bytes());
    body.extend_from_slice(&id.octets());
    body.extend(params);
    let mut bytes = MARKER.to_vec();
    bytes.extend_from_slice(&u16::try_from(19 + body.len())?.to_be_bytes());
    bytes.push(1);
    bytes.extend(body);
    Ok((bytes, open, hold))
}

/// An UPDATE from `send-update` options (see the crate docs): `local_ip`
/// is the default NEXT_HOP, `local_as` the default AS_PATH.
pub(crate) fn update(
    opts: &Options,
    ctx: &Context,
    local_ip: Ipv4Addr,
    local_as: u32,
) -> Result<Vec<u8>> {
    let parse = |key| -> Result<Vec<IpNet>> {
        opts.all(key)
            .map(|p| p.parse().with_context(|| format!("{key}={p}")))
            .collect()
    };
    let (ann6, ann4): (Vec<IpNet>, Vec<IpNet>) = parse("announce")?
        .into_iter()
        .partition(|p| p.addr().is_ipv6());
    let (wd6, wd4): (Vec<IpNet>, Vec<IpNet>) = parse("withdraw")?
        .into_iter()
        .partition(|p| p.addr().is_ipv6());
    let omitted: Vec<u8> = opts.all("omit").map(number).collect::<Result<_>>()?;
    let nlri_raw = opts.get("nlri-raw").map(unhex).transpose()?;
    let announcing = !ann4.is_empty() || !ann6.is_empty() || nlri_raw.is_some();

    let mut values = Vec::new();
    if !ann6.is_empty() {
        let nh: Ipv6Addr = opts.get("next-hop6").unwrap_or("2001:db8::2").parse()?;
        values.push(AttributeValue::MpReach(MpReach {
            family: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::Ipv6 {
                global: nh,
                link_local: None,
            },
            nlri: ann6.iter().copied().map(Nlri::new).collect(),
        }));
    }
    if !wd6.is_empty() {
        values.push(AttributeValue::MpUnreach(MpUnreach {
            family: AfiSafi::IPV6_UNICAST,
            withdrawn: wd6.iter().copied().map(Nlri::new).collect(),
        }));
    }
    if announcing {
        let origin = match opts.get("origin").map_or(Ok(0), number::<u8>)? {
            0 => Origin::Igp,
            1 => Origin::Egp,
            2 => Origin::Incomplete,
            o => bail!("origin={o}: use raw= for invalid values"),
        };
        values.push(AttributeValue::Origin(origin));
        let path = match opts.get("as-path") {
            Some(p) => p.split(',').map(number).collect::<Result<Vec<u32>>>()?,
            None => vec![local_as],
        };
        values.push(AttributeValue::AsPath(AsPath::sequence(path)));
        if !ann4.is_empty() || nlri_raw.is_some() {
            let nh = opts.get("next-hop").map_or(Ok(local_ip), str::parse)?;
            values.push(AttributeValue::NextHop(nh));
        }
    }
    if let Some(m) = opts.get("med") {
        values.push(AttributeValue::MultiExitDisc(number(m)?));
    }
    if opts.has("atomic-aggregate") {
        values.push(AttributeValue::AtomicAggregate);
    }
    if let Some(g) = opts.get("aggregator") {
        let (asn, ip) = g.split_once(':').context("aggregator=ASN:IP")?;
        values.push(AttributeValue::Aggregator(Aggregator {
            asn: number(asn)?,
            address: ip.parse()?,
        }));
    }
    let communities = opts
        .all("community")
        .map(|c| {
            let (a, v) = c.split_once(':').context("community=ASN:VALUE")?;
            Ok(Community::new(number(a)?, number(v)?))
        })
        .collect::<Result<Vec<_>>>()?;
    if !communities.is_empty() {
        values.push(AttributeValue::Communities(communities));
    }

    let mut attrs = Vec::new();
    for v in values
        .into_iter()
        .filter(|v| !omitted.contains(&v.type_code()))
    {
        PathAttribute::new(v).emit(ctx, &mut attrs)?;
    }
    for raw in opts.all("raw") {
        let mut parts = raw.splitn(3, ':');
        let (Some(f), Some(c), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("raw={raw}: FLAGS:CODE:HEX");
        };
        let flags = u8::from_str_radix(f.trim_start_matches("0x"), 16)?;
        let code = u8::from_str_radix(c.trim_start_matches("0x"), 16)?;
        let value = unhex(v)?;
        attrs.push(flags);
        attrs.push(code);
        if flags & 0x10 != 0 {
            attrs.extend_from_slice(&u16::try_from(value.len())?.to_be_bytes());
        } else {
            attrs.push(u8::try_from(value.len())?);
        }
        attrs.extend(value);
    }
    if let Some(tail) = opts.get("raw-tail") {
        attrs.extend(unhex(tail)?);
    }

    let mut withdrawn = Vec::new();
    for p in wd4 {
        Nlri::new(p).emit(false, &mut withdrawn);
    }
    let mut nlri = Vec::new();
    for p in ann4 {
        Nlri::new(p).emit(false, &mut nlri);
    }
    nlri.extend(nlri_raw.unwrap_or_default());

    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len())?.to_be_bytes());
    body.extend(withdrawn);
    body.extend_from_slice(&u16::try_from(attrs.len())?.to_be_bytes());
    body.extend(attrs);
    body.extend(nlri);
    let mut bytes = MARKER.to_vec();
    bytes.extend_from_slice(&u16::try_from(19 + body.len())?.to_be_bytes());
    bytes.push(2);
    bytes.extend(body);
    Ok(bytes)
}

/// The OPEN's bytes from Opt Parm Len on.
trait ParamBytes {
    fn to_bytes_params(&self) -> Option<Vec<u8>>;
}

impl ParamBytes for Open {
    fn to_bytes_params(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.emit(&mut out).ok()?;
        // Header (19), version, AS, hold time, identifier (9).
        out.get(28..).map(<[u8]>::to_vec)
    }
}

/// Announced and withdrawn prefixes of an UPDATE, both families.
pub(crate) fn prefixes(u: &Update) -> (Vec<IpNet>, Vec<IpNet>) {
    let mut announced: Vec<IpNet> = u.nlri.iter().map(|n| n.prefix).collect();
    let mut withdrawn: Vec<IpNet> = u.withdrawn.iter().map(|n| n.prefix).collect();
    if let Some(m) = u.mp_reach() {
        announced.extend(m.nlri.iter().map(|n| n.prefix));
    }
    if let Some(m) = u.mp_unreach() {
        withdrawn.extend(m.withdrawn.iter().map(|n| n.prefix));
    }
    (announced, withdrawn)
}

/// The JSON line for a received message, and the event it is.
pub(crate) fn describe(message: Message, ctx: &Context) -> (Value, Event) {
    match message {
        Message::Open(o) => (
            json!({"recv": "open", "as": o.asn(), "hold": o.hold_time.seconds(),
                   "id": o.bgp_id.to_string(),
                   "caps": o.capabilities().map(Capability::code).collect::<Vec<_>>()}),
            Event::Open(o),
        ),
        Message::Keepalive => (json!({"recv": "keepalive"}), Event::Keepalive),
        Message::Update(u) => {
            let (announce, withdraw) = prefixes(&u);
            let attrs: Vec<Value> = u
                .attributes
                .iter()
                .map(|a| {
                    let mut bytes = Vec::new();
                    let _ = a.emit(ctx, &mut bytes);
                    json!({"type": a.type_code(), "flags": format!("{:02x}", a.flags), "hex": hex(&bytes)})
                })
                .collect();
            let eor = u.end_of_rib_family().map(|f| f.to_string());
            (
                json!({"recv": "update", "announce": announce, "withdraw": withdraw,
                       "attrs": attrs, "end_of_rib": eor}),
                Event::Update(u),
            )
        }
        Message::Notification(n) => {
            let (code, subcode) = n.error.codes();
            (
                json!({"recv": "notification", "code": code, "subcode": subcode, "data": hex(&n.data)}),
                Event::Notification(n),
            )
        }
        Message::RouteRefresh(_) => (json!({"recv": "route-refresh"}), Event::RouteRefresh),
    }
}
