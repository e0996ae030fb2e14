//! What the OPEN exchange negotiated, as the codec needs it.
//!
//! The same bytes mean different things depending on the session: AS
//! numbers are two or four octets, NLRI may carry ADD-PATH identifiers in
//! one direction only, IPv4 NLRI may have an IPv6 next hop. A `Context` is
//! built once per session from both OPENs and handed to every decode and
//! encode call, from the local speaker's point of view.

use serde::{Deserialize, Serialize};

use super::header::MAX_MESSAGE_LEN;
use super::iana::{Afi, AfiSafi};

/// Negotiated session parameters, from the local speaker's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Context {
    /// Both sides advertised the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Families whose received NLRI carry a path identifier (RFC 7911).
    pub add_path_rx: Vec<AfiSafi>,
    /// Families whose sent NLRI carry a path identifier (RFC 7911).
    pub add_path_tx: Vec<AfiSafi>,
    /// (NLRI family, next-hop AFI) pairs allowed by RFC 8950.
    pub extended_next_hop: Vec<(AfiSafi, Afi)>,
    /// Largest message either way: 4096, or up to 65535 with RFC 8654.
    pub max_message_len: u16,
    /// The peer is in another AS: LOCAL_PREF from it is ignored (RFC 7606 section 7.5).
    pub external: bool,
}

impl Default for Context {
    /// What holds before OPEN: 2-octet AS, no ADD-PATH, 4096-byte messages.
    fn default() -> Self {
        Self {
            four_octet_as: false,
            add_path_rx: Vec::new(),
            add_path_tx: Vec::new(),
            extended_next_hop: Vec::new(),
            max_message_len: MAX_MESSAGE_LEN,
            external: true,
        }
    }
}

impl Context {
    /// A modern session: 4-octet AS, no ADD-PATH, IPv6 next hops for IPv4.
    pub fn modern() -> Self {
        Self {
            four_octet_as: true,
            extended_next_hop: vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)],
            ..Self::default()
        }
    }

    pub fn add_path_rx(&self, family: AfiSafi) -> bool {
        self.add_path_rx.contains(&family)
    }

    pub fn add_path_tx(&self, family: AfiSafi) -> bool {
        self.add_path_tx.contains(&family)
    }

    pub fn extended_next_hop(&self, family: AfiSafi, next_hop: Afi) -> bool {
        self.extended_next_hop.contains(&(family, next_hop))
    }

    /// The largest message, never below the 4096 every speaker accepts.
    pub fn max_len(&self) -> u16 {
        self.max_message_len.max(MAX_MESSAGE_LEN)
    }
}
