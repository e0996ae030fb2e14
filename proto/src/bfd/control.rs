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
/// `Other` above 31 does not fit the field and cannot be emitted.
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
