//! The file as written: serde structs whose values keep their spans, so a
//! value that parses but makes no sense can still be traced to its line.
//! `check` turns them into [`super::AgentConfig`].

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use crate::detect::MacAddr;

/// A value written as a string and parsed with [`FromStr`], whose error
/// says what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Text<T>(pub T);

/// What a [`Text`] value should look like, for its error message.
pub(super) trait Expect: FromStr {
    const EXPECTED: &'static str;
}

impl Expect for IpAddr {
    const EXPECTED: &'static str = "an IPv4 or IPv6 address";
}
impl Expect for Ipv4Addr {
    const EXPECTED: &'static str = "an IPv4 address";
}
impl Expect for Ipv6Addr {
    const EXPECTED: &'static str = "an IPv6 address";
}
impl Expect for SocketAddr {
    const EXPECTED: &'static str = "an address and port (\"0.0.0.0:179\", \"[::]:179\")";
}
impl Expect for IpNet {
    const EXPECTED: &'static str = "a prefix (address/length, such as \"10.1.1.0/24\")";
}
impl Expect for MacAddr {
    const EXPECTED: &'static str = "a MAC address (xx:xx:xx:xx:xx:xx)";
}

/// An address (as its host prefix) or a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostOrNet(pub IpNet);

impl FromStr for HostOrNet {
    type Err = ipnet::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<IpAddr>() {
            Ok(a) => Ok(HostOrNet(IpNet::from(a))),
            Err(_) => s.parse().map(HostOrNet),
        }
    }
}

impl Expect for HostOrNet {
    const EXPECTED: &'static str = "an address or a prefix (\"10.1.1.9\", \"10.1.1.16/28\")";
}

impl<'de, T: Expect> Deserialize<'de> for Text<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(PhantomData))
    }
}

struct TextVisitor<T>(PhantomData<T>);

impl<T: Expect> serde::de::Visitor<'_> for TextVisitor<T> {
    type Value = Text<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string holding {}", T::EXPECTED)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text<T>, E> {
        s.parse()
            .map(Text)
            .map_err(|_| E::custom(format!("{s:?} is not {}", T::EXPECTED)))
    }
}

/// A TOML table and nothing else. Serde's derived structs also accept an
/// array of their values in field order, which would read `[[fib]]` as a
/// value for `fib.protocol` and report a baffling type error there.
#[derive(Debug)]
pub(super) struct Table<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TableVisitor(PhantomData))
    }
}

struct TableVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for TableVisitor<T> {
    type Value = Table<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Table<T>, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Table)
    }
}

pub(super) type Sp<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub router_id: Sp<Text<Ipv4Addr>>,
    pub asn: Sp<u32>,
    pub listen: Option<Vec<Sp<Text<SocketAddr>>>>,
    pub control_socket: Option<Sp<String>>,
    pub graceful_restart: Option<Sp<u16>>,
    pub gateway: Option<Table<RawGateway>>,
    pub fib: Option<Table<RawFib>>,
    pub mobility: Option<Table<RawMobility>>,
    pub detection: Option<Table<RawDetection>>,
    #[serde(default)]
    pub interfaces: Vec<Table<RawInterfaces>>,
    #[serde(default)]
    pub peer: Vec<Table<RawPeer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    pub mac: Option<Sp<Text<MacAddr>>>,
    #[serde(default)]
    pub ipv4: Vec<Sp<Text<Ipv4Addr>>>,
    #[serde(default)]
    pub ipv6: Vec<Sp<Text<Ipv6Addr>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFib {
    pub protocol: Option<Sp<u8>>,
    pub metric: Option<Sp<u32>>,
    pub table: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMobility {
    pub duplicate_moves: Option<Sp<u32>>,
    pub duplicate_window: Option<Sp<u32>>,
    pub freeze: Option<Sp<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetection {
    pub neighbours: Option<bool>,
    pub announcements: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInterfaces {
    #[serde(rename = "match")]
    pub patterns: Sp<Vec<Sp<String>>>,
    pub pools: Sp<Vec<Sp<Text<IpNet>>>>,
    #[serde(default)]
    pub pinned: Vec<Sp<Text<HostOrNet>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPeer {
    pub address: Sp<Text<IpAddr>>,
    pub asn: Sp<u32>,
    pub password: Option<Sp<String>>,
    pub local_address: Option<Sp<Text<IpAddr>>>,
    pub interface: Option<Sp<String>>,
    pub port: Option<Sp<u16>>,
    pub hold_time: Option<Sp<u16>>,
    pub keepalive: Option<Sp<u16>>,
    #[serde(default)]
    pub passive: bool,
    pub ttl_security_hops: Option<Sp<u8>>,
    pub next_hop_v4: Option<Sp<Text<Ipv4Addr>>>,
    pub next_hop_v6: Option<Sp<Text<Ipv6Addr>>>,
    #[serde(default)]
    pub export_learned: bool,
    pub import_pools: Option<Vec<Sp<Text<IpNet>>>>,
    pub max_prefix: Option<Sp<u32>>,
    pub route_reflector_client: Option<Sp<bool>>,
    pub bfd: Option<Table<RawBfd>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBfd {
    pub interval_ms: Option<Sp<u32>>,
    pub multiplier: Option<Sp<u8>>,
    #[serde(default)]
    pub multihop: bool,
    pub min_ttl: Option<Sp<u8>>,
    #[serde(default)]
    pub required: bool,
}
