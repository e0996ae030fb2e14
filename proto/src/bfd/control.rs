//! The BFD Control packet (RFC 5880 section 4.1).

use core::fmt;
use core::num::NonZeroU32;
use core::time::Duration;

use bytes::{Buf, BufMut};
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::error::{BfdError, EmitError};

/// The only protocol version, RFC 5880 section 4.1.
pub const VERSION: u8 = 1;

/// Length of the mandatory section, without authentication.
pub const HEADER_LEN: usize = 24;

/// Minimum Length field with the A bit clear (RFC 5880 section 6.8.6).
const MIN_LEN: u8 = 24;

/// Minimum Length field with the A bit set: the header plus Auth Type and
/// Auth Len (RFC 5880 section 6.8.6).
const MIN_LEN_WITH_AUTH: u8 = 26;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// A BFD Control packet, RFC 5880 section 4.1.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Your Discriminator                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Desired Min TX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Required Min RX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Required Min Echo RX Interval                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// An optional Authentication Section MAY be present:
///
/// |   Auth Type   |   Auth Len    |    Authentication Data...     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The version is always [`VERSION`] and the Length field is always
/// [`buffer_len`](Self::buffer_len), so neither is stored. The A bit is set
/// exactly when `auth` is `Some`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlPacket {
    /// Diag: why the sender's session last left Up.
    pub diagnostic: Diagnostic,
    /// Sta: the sender's session state.
    pub state: State,
    /// P: the sender asks for a parameter change to be confirmed.
    pub poll: bool,
    /// F: the sender answers a packet with the Poll bit set.
    #[serde(rename = "final")]
    pub final_: bool,
    /// C: the sender's BFD runs independently of its control plane.
    pub control_plane_independent: bool,
    /// D: the sender wishes to run in Demand mode.
    pub demand: bool,
    /// M: reserved for point-to-multipoint; received packets with it set are
    /// rejected.
    pub multipoint: bool,
    /// Detect Mult: the detection time multiplier.
    pub detect_mult: u8,
    /// My Discriminator: the sender's discriminator, never zero on the wire.
    pub my_discriminator: u32,
    /// Your Discriminator: the discriminator received from the peer, zero
    /// while unknown (only in Down or AdminDown).
    pub your_discriminator: u32,
    /// Desired Min TX Interval, in microseconds.
    pub desired_min_tx_us: u32,
    /// Required Min RX Interval, in microseconds; zero means the sender
    /// wants no periodic Control packets.
    pub required_min_rx_us: u32,
    /// Required Min Echo RX Interval, in microseconds; zero means the sender
    /// does not support receiving Echo packets.
    pub required_min_echo_rx_us: u32,
    /// The authentication section; the A bit is set when present.
    pub auth: Option<Auth>,
}

impl ControlPacket {
    /// Decodes a Control packet and runs the receive checks of RFC 5880
    /// section 6.8.6 that need no session state.
    ///
    /// `bytes` is the UDP payload. Bytes past the Length field are ignored;
    /// bytes inside it that belong to no section are an error. Never panics.
    pub fn parse(bytes: &[u8]) -> Result<Self, BfdError> {
        let received = bytes.len();
        let truncated = |_| BfdError::Truncated { received };

        let mut buf = bytes;
        let vers_diag = buf.try_get_u8().map_err(truncated)?;
        let version = vers_diag >> 5;
        if version != VERSION {
            return Err(BfdError::BadVersion(version));
        }
        let state_flags = buf.try_get_u8().map_err(truncated)?;
        let detect_mult = buf.try_get_u8().map_err(truncated)?;
        let length = buf.try_get_u8().map_err(truncated)?;

        let auth_present = state_flags & FLAG_AUTH != 0;
        let minimum = if auth_present {
            MIN_LEN_WITH_AUTH
        } else {
            MIN_LEN
        };
        if length < minimum {
            return Err(BfdError::LengthTooSmall { length, minimum });
        }
        // The packet ends where the Length field says; what follows in the
        // datagram is not ours.
        let mut buf = bytes
            .get(4..usize::from(length))
            .ok_or(BfdError::LengthExceedsReceived { length, received })?;

        if detect_mult == 0 {
            return Err(BfdError::ZeroDetectMult);
        }
        let multipoint = state_flags & FLAG_MULTIPOINT != 0;
        if multipoint {
            return Err(BfdError::MultipointSet);
        }
        let my_discriminator = buf.try_get_u32().map_err(truncated)?;
        if my_discriminator == 0 {
            return Err(BfdError::ZeroMyDiscriminator);
        }
        let your_discriminator = buf.try_get_u32().map_err(truncated)?;
        let state = State::from_bits(state_flags >> 6);
        if your_discriminator == 0 && !matches!(state, State::AdminDown | State::Down) {
            return Err(BfdError::ZeroYourDiscriminator { state });
        }
        let desired_min_tx_us = buf.try_get_u32().map_err(truncated)?;
        let required_min_rx_us = buf.try_get_u32().map_err(truncated)?;
        let required_min_echo_rx_us = buf.try_get_u32().map_err(truncated)?;

        let auth = if auth_present {
            Some(Auth::parse(&mut buf)?)
        } else {
            None
        };
        if !buf.is_empty() {
            return Err(BfdError::TrailingBytes {
                length,
                end: usize::from(length) - buf.len(),
            });
        }

        Ok(Self {
            diagnostic: Diagnostic::from(vers_diag & 0x1f),
            state,
            poll: state_flags & FLAG_POLL != 0,
            final_: state_flags & FLAG_FINAL != 0,
            control_plane_independent: state_flags & FLAG_CONTROL_PLANE_INDEPENDENT != 0,
            demand: state_flags & FLAG_DEMAND != 0,
            multipoint,
            detect_mult,
            my_discriminator,
            your_discriminator,
            desired_min_tx_us,
            required_min_rx_us,
            required_min_echo_rx_us,
            auth,
        })
    }

    /// Bytes [`emit`](Self::emit) writes: 24, plus the authentication
    /// section when present. This is also the Length field.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.auth.as_ref().map_or(0, Auth::buffer_len)
    }

    /// Writes the packet to the start of `buf` and returns the number of
    /// bytes written, always [`buffer_len`](Self::buffer_len).
    ///
    /// Values are written as they are: a packet with a zero My
    /// Discriminator is emitted, and [`parse`](Self::parse) rejects it.
    /// Only what cannot be encoded is an error. A digest-authenticated packet
    /// is signed afterwards with [`sign`](super::sign).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let diagnostic = u8::from(self.diagnostic);
        if diagnostic > 0x1f {
            return Err(EmitError::DiagnosticOutOfRange(diagnostic));
        }
        if let Some(auth) = &self.auth {
            auth.check_encodable()?;
        }
        let len = self.buffer_len();
        let length = u8::try_from(len).map_err(|_| EmitError::AuthDataTooLong {
            len: len - HEADER_LEN,
            max: usize::from(u8::MAX) - HEADER_LEN,
        })?;
        let available = buf.len();
        let mut out = buf.get_mut(..len).ok_or(EmitError::BufferTooSmall {
            needed: len,
            available,
        })?;

        out.put_u8(VERSION << 5 | diagnostic);
        out.put_u8(self.state_flags());
        out.put_u8(self.detect_mult);
        out.put_u8(length);
        out.put_u32(self.my_discriminator);
        out.put_u32(self.your_discriminator);
        out.put_u32(self.desired_min_tx_us);
        out.put_u32(self.required_min_rx_us);
        out.put_u32(self.required_min_echo_rx_us);
        if let Some(auth) = &self.auth {
            auth.emit(&mut out);
        }
        debug_assert!(out.is_empty(), "emit wrote fewer bytes than buffer_len");
        Ok(len)
    }

    /// Emits into a new vector of exactly [`buffer_len`](Self::buffer_len)
    /// bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmitError> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }

    /// The A bit: whether an authentication section is present.
    pub fn authentication_present(&self) -> bool {
        self.auth.is_some()
    }

    /// Desired Min TX Interval as a duration.
    pub fn desired_min_tx(&self) -> Duration {
        micros(self.desired_min_tx_us)
    }

    /// Required Min RX Interval as a duration.
    pub fn required_min_rx(&self) -> Duration {
        micros(self.required_min_rx_us)
    }

    /// Required Min Echo RX Interval as a duration.
    pub fn required_min_echo_rx(&self) -> Duration {
        micros(self.required_min_echo_rx_us)
    }

    /// The second byte: State in the top two bits, then P F C A D M.
    fn state_flags(&self) -> u8 {
        let flags = [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (
                self.control_plane_independent,
                FLAG_CONTROL_PLANE_INDEPENDENT,
            ),
            (self.auth.is_some(), FLAG_AUTH),
            (self.demand, FLAG_DEMAND),
            (self.multipoint, FLAG_MULTIPOINT),
        ];
        flags
            .iter()
            .filter(|(set, _)| *set)
            .fold(u8::from(self.state) << 6, |acc, (_, bit)| acc | bit)
    }
}

fn micros(us: u32) -> Duration {
    Duration::from_micros(u64::from(us))
}

/// The Diag field, RFC 5880 section 4.1.
///
/// Codes 9 to 31 are reserved and kept as [`Other`](Self::Other); an
/// `Other` above 31 does not fit the field and cannot be emitted, and an
/// `Other` holding an assigned code (0 to 8) parses back as the named
/// variant. Build values with `Diagnostic::from(code)` to stay canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Diagnostic {
    /// 0 No Diagnostic.
    NoDiagnostic,
    /// 1 Control Detection Time Expired.
    ControlDetectionTimeExpired,
    /// 2 Echo Function Failed.
    EchoFunctionFailed,
    /// 3 Neighbor Signaled Session Down.
    NeighborSignaledSessionDown,
    /// 4 Forwarding Plane Reset.
    ForwardingPlaneReset,
    /// 5 Path Down.
    PathDown,
    /// 6 Concatenated Path Down.
    ConcatenatedPathDown,
    /// 7 Administratively Down.
    AdministrativelyDown,
    /// 8 Reverse Concatenated Path Down.
    ReverseConcatenatedPathDown,
    /// 9 to 31, reserved for future use.
    Other(u8),
}

impl From<u8> for Diagnostic {
    fn from(code: u8) -> Self {
        match code {
            0 => Self::NoDiagnostic,
            1 => Self::ControlDetectionTimeExpired,
            2 => Self::EchoFunctionFailed,
            3 => Self::NeighborSignaledSessionDown,
            4 => Self::ForwardingPlaneReset,
            5 => Self::PathDown,
            6 => Self::ConcatenatedPathDown,
            7 => Self::AdministrativelyDown,
            8 => Self::ReverseConcatenatedPathDown,
            other => Self::Other(other),
        }
    }
}

impl From<Diagnostic> for u8 {
    fn from(diagnostic: Diagnostic) -> Self {
        match diagnostic {
            Diagnostic::NoDiagnostic => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Other(code) => code,
        }
    }
}

/// The Sta field: session states of RFC 5880 sections 4.1 and 6.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// 0: the session is held down by an operator.
    AdminDown,
    /// 1: the session is down or just created.
    Down,
    /// 2: the remote system is talking, the session is coming up.
    Init,
    /// 3: the session is up.
    Up,
}

impl State {
    /// The state for a 2-bit code; bits above the low two are ignored.
    fn from_bits(code: u8) -> Self {
        match code & 0x03 {
            0 => Self::AdminDown,
            1 => Self::Down,
            2 => Self::Init,
            _ => Self::Up,
        }
    }
}

impl From<State> for u8 {
    fn from(state: State) -> Self {
        match state {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }
}

/// A session discriminator: non-zero by RFC 5880 section 6.3.
///
/// [`ControlPacket`] keeps the raw `u32` fields so that any received value
/// can be represented; a session holds its own discriminator as this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Discriminator(NonZeroU32);

impl Discriminator {
    /// `None` for zero, which means "unknown" on the wire.
    pub const fn new(value: u32) -> Option<Self> {
        match NonZeroU32::new(value) {
            Some(value) => Some(Self(value)),
            None => None,
        }
    }

    /// The value as written in My or Your Discriminator.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl From<NonZeroU32> for Discriminator {
    fn from(value: NonZeroU32) -> Self {
        Self(value)
    }
}

impl From<Discriminator> for u32 {
    fn from(discriminator: Discriminator) -> Self {
        discriminator.get()
    }
}

impl fmt::Display for Discriminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::*;

    /// Hand-built from the layout of RFC 5880 section 4.1: version 1, Diag 3
    /// (Neighbor Signaled Session Down), State Up with P and C set, Detect
    /// Mult 3, Length 24, discriminators 0x11223344 / 0x55667788, intervals
    /// 300 ms / 100 ms / 0.
    const UP_POLL: [u8; 24] = [
        0x23, 0xe8, 0x03, 0x18, // Vers|Diag, Sta|P|F|C|A|D|M, Detect Mult, Length
        0x11, 0x22, 0x33, 0x44, // My Discriminator
        0x55, 0x66, 0x77, 0x88, // Your Discriminator
        0x00, 0x04, 0x93, 0xe0, // Desired Min TX Interval: 300000 us
        0x00, 0x01, 0x86, 0xa0, // Required Min RX Interval: 100000 us
        0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval
    ];

    fn up_poll() -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::NeighborSignaledSessionDown,
            state: State::Up,
            poll: true,
            final_: false,
            control_plane_independent: true,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discriminator: 0x1122_3344,
            your_discriminator: 0x5566_7788,
            desired_min_tx_us: 300_000,
            required_min_rx_us: 100_000,
            required_min_echo_rx_us: 0,
            auth: None,
        }
    }

    /// `UP_POLL` with one byte replaced.
    fn with_byte(at: usize, value: u8) -> Vec<u8> {
        let mut bytes = UP_POLL.to_vec();
        bytes[at] = value;
        bytes
    }

    fn assert_good() {
        assert!(ControlPacket::parse(&UP_POLL).is_ok());
    }

    #[test]
    fn parses_rfc_layout_field_by_field() {
        let packet = ControlPacket::parse(&UP_POLL).unwrap();
        assert_eq!(packet.diagnostic, Diagnostic::NeighborSignaledSessionDown);
        assert_eq!(packet.state, State::Up);
        assert!(packet.poll);
        assert!(!packet.final_);
        assert!(packet.control_plane_independent);
        assert!(!packet.authentication_present());
        assert!(!packet.demand);
        assert!(!packet.multipoint);
        assert_eq!(packet.detect_mult, 3);
        assert_eq!(packet.my_discriminator, 0x1122_3344);
        assert_eq!(packet.your_discriminator, 0x5566_7788);
        assert_eq!(packet.desired_min_tx(), Duration::from_millis(300));
        assert_eq!(packet.required_min_rx(), Duration::from_millis(100));
        assert_eq!(packet.required_min_echo_rx(), Duration::ZERO);
        assert_eq!(packet, up_poll());
    }

    #[test]
    fn emits_rfc_layout_byte_for_byte() {
        assert_eq!(up_poll().to_bytes().unwrap(), UP_POLL);
        assert_eq!(up_poll().buffer_len(), HEADER_LEN);
    }

    #[test]
    fn parses_every_flag_bit() {
        let flags = [
            (0x20, "poll"),
            (0x10, "final"),
            (0x08, "control plane independent"),
            (0x02, "demand"),
        ];
        for (bit, name) in flags {
            // State Down, no other flag.
            let packet = ControlPacket::parse(&with_byte(1, 0x40 | bit)).unwrap();
            let got = [
                packet.poll,
                packet.final_,
                packet.control_plane_independent,
                packet.demand,
            ];
            assert_eq!(got.iter().filter(|set| **set).count(), 1, "{name}");
            assert_eq!(packet.to_bytes().unwrap()[1], 0x40 | bit, "{name}");
        }
    }

    #[test]
    fn parses_every_state() {
        for (code, state) in [(0, State::AdminDown), (1, State::Down), (2, State::Init)] {
            let packet = ControlPacket::parse(&with_byte(1, code << 6)).unwrap();
            assert_eq!(packet.state, state);
            assert_eq!(u8::from(state), code);
        }
    }

    #[test]
    fn diagnostic_codes_round_trip() {
        for code in 0..32 {
            let packet = ControlPacket::parse(&with_byte(0, 0x20 | code)).unwrap();
            assert_eq!(u8::from(packet.diagnostic), code);
            assert_eq!(packet.to_bytes().unwrap()[0], 0x20 | code);
        }
        assert_eq!(Diagnostic::from(8), Diagnostic::ReverseConcatenatedPathDown);
        assert_eq!(Diagnostic::from(9), Diagnostic::Other(9));
    }

    #[test]
    fn rejects_truncated_packet() {
        assert_good();
        assert_eq!(
            ControlPacket::parse(&[]),
            Err(BfdError::Truncated { received: 0 })
        );
        assert_eq!(
            ControlPacket::parse(&UP_POLL[..3]),
            Err(BfdError::Truncated { received: 3 })
        );
    }

    #[test]
    fn rejects_version_other_than_1() {
        assert_good();
        for version in [0, 2, 7] {
            let bytes = with_byte(0, version << 5 | 3);
            assert_eq!(
                ControlPacket::parse(&bytes),
                Err(BfdError::BadVersion(version))
            );
        }
    }

    #[test]
    fn rejects_length_below_24() {
        assert_good();
        assert_eq!(
            ControlPacket::parse(&with_byte(3, 23)),
            Err(BfdError::LengthTooSmall {
                length: 23,
                minimum: 24
            })
        );
    }

    #[test]
    fn rejects_length_below_26_with_auth_bit() {
        let mut bytes = with_byte(1, 0xc0 | 0x04);
        bytes.push(6);
        bytes[3] = 25;
        assert_eq!(
            ControlPacket::parse(&bytes),
            Err(BfdError::LengthTooSmall {
                length: 25,
                minimum: 26
            })
        );
    }

    #[test]
    fn rejects_length_beyond_bytes_received() {
        assert_good();
        assert_eq!(
            ControlPacket::parse(&UP_POLL[..23]),
            Err(BfdError::LengthExceedsReceived {
                length: 24,
                received: 23
            })
        );
        assert_eq!(
            ControlPacket::parse(&with_byte(3, 40)),
            Err(BfdError::LengthExceedsReceived {
                length: 40,
                received: 24
            })
        );
    }

    #[test]
    fn ignores_bytes_past_length() {
        let mut bytes = UP_POLL.to_vec();
        bytes.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(ControlPacket::parse(&bytes), Ok(up_poll()));
    }

    #[test]
    fn rejects_zero_detect_mult() {
        assert_good();
        assert_eq!(
            ControlPacket::parse(&with_byte(2, 0)),
            Err(BfdError::ZeroDetectMult)
        );
    }

    #[test]
    fn rejects_multipoint_bit() {
        assert_good();
        assert_eq!(
            ControlPacket::parse(&with_byte(1, 0xe9)),
            Err(BfdError::MultipointSet)
        );
    }

    #[test]
    fn rejects_zero_my_discriminator() {
        assert_good();
        let mut bytes = UP_POLL;
        bytes[4..8].fill(0);
        assert_eq!(
            ControlPacket::parse(&bytes),
            Err(BfdError::ZeroMyDiscriminator)
        );
    }

    #[test]
    fn rejects_zero_your_discriminator_in_init_and_up() {
        assert_good();
        for (code, state) in [(2, State::Init), (3, State::Up)] {
            let mut bytes = with_byte(1, code << 6);
            bytes[8..12].fill(0);
            assert_eq!(
                ControlPacket::parse(&bytes),
                Err(BfdError::ZeroYourDiscriminator { state })
            );
        }
    }

    #[test]
    fn accepts_zero_your_discriminator_in_down_and_admin_down() {
        for code in [0, 1] {
            let mut bytes = with_byte(1, code << 6);
            bytes[8..12].fill(0);
            assert_eq!(ControlPacket::parse(&bytes).unwrap().your_discriminator, 0);
        }
    }

    #[test]
    fn rejects_bytes_after_header_without_auth_bit() {
        assert_good();
        let mut bytes = with_byte(3, 28);
        bytes.extend_from_slice(&[1, 4, 0, 0]);
        assert_eq!(
            ControlPacket::parse(&bytes),
            Err(BfdError::TrailingBytes {
                length: 28,
                end: 24
            })
        );
    }

    #[test]
    fn emit_writes_exactly_buffer_len_bytes() {
        let mut buf = [0xaa; 40];
        assert_eq!(up_poll().emit(&mut buf), Ok(24));
        assert_eq!(buf[..24], UP_POLL);
        assert!(buf[24..].iter().all(|b| *b == 0xaa));
    }

    #[test]
    fn emit_rejects_short_buffer() {
        let mut buf = [0; 23];
        assert_eq!(
            up_poll().emit(&mut buf),
            Err(EmitError::BufferTooSmall {
                needed: 24,
                available: 23
            })
        );
        assert!(up_poll().emit(&mut [0; 24]).is_ok());
    }

    #[test]
    fn emit_rejects_diagnostic_above_31() {
        let packet = ControlPacket {
            diagnostic: Diagnostic::Other(32),
            ..up_poll()
        };
        assert_eq!(packet.to_bytes(), Err(EmitError::DiagnosticOutOfRange(32)));
        let packet = ControlPacket {
            diagnostic: Diagnostic::Other(31),
            ..up_poll()
        };
        assert!(packet.to_bytes().is_ok());
    }

    #[test]
    fn serializes_to_json_and_back() {
        let json = serde_json::to_string(&up_poll()).unwrap();
        assert!(json.contains("\"final\":false"), "{json}");
        let back: ControlPacket = serde_json::from_str(&json).unwrap();
        assert_eq!(back, up_poll());
    }

    #[test]
    fn discriminator_is_never_zero() {
        assert_eq!(Discriminator::new(0), None);
        let discriminator = Discriminator::new(7).unwrap();
        assert_eq!(discriminator.get(), 7);
        assert_eq!(u32::from(discriminator), 7);
        assert_eq!(discriminator.to_string(), "7");
        assert_eq!(serde_json::to_string(&discriminator).unwrap(), "7");
        assert!(serde_json::from_str::<Discriminator>("0").is_err());
    }
}
