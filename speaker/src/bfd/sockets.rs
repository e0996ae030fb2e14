//! The UDP sockets of the BFD driver (Linux): listeners that report each
//! datagram's TTL, destination and interface, and per-session senders.
//!
//! Everything here goes through `socket2` and `nix`'s safe wrappers: no
//! `unsafe`.

use std::io;
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

use super::{SOURCE_PORTS, SplitMix64};

/// Largest datagram read: a Control packet is at most 255 bytes.
const MAX_DATAGRAM: usize = 512;

/// Room for the TTL and packet-info control messages, with margin.
const CMSG_SPACE: usize = 256;

/// A listening socket on a BFD port, with its buffers.
#[derive(Debug)]
pub(super) struct Listener {
    socket: UdpSocket,
    buf: Vec<u8>,
    cmsg: Vec<u8>,
}

/// One datagram and how it arrived.
#[derive(Debug)]
pub(super) struct Datagram {
    pub(super) bytes: Vec<u8>,
    pub(super) source: IpAddr,
    pub(super) destination: Option<IpAddr>,
    pub(super) ifindex: Option<u32>,
    /// `None` if the kernel gave no TTL; the table then drops single-hop
    /// packets (treated as TTL 0).
    pub(super) ttl: Option<u8>,
}

impl Listener {
    /// Binds `port` on every address of the family, with IP_RECVTTL and
    /// IP_PKTINFO (or their IPv6 counterparts) enabled.
    pub(super) fn bind(ipv6: bool, port: u16) -> io::Result<Self> {
        let socket = if ipv6 {
            let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_only_v6(true)?;
            setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)?;
            setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)?;
            socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
            socket
        } else {
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            setsockopt(&socket, sockopt::Ipv4RecvTtl, &true)?;
            setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?;
            socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())?;
            socket
        };
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket: UdpSocket::from_std(socket.into())?,
            buf: vec![0; MAX_DATAGRAM],
            cmsg: vec![0; CMSG_SPACE],
        })
    }

    /// Waits until a datagram may be queued.
    pub(super) async fn readable(&self) -> io::Result<()> {
        self.socket.readable().await
    }

    /// Reads one queued datagram without waiting: `WouldBlock` when none
    /// is. Asks the kernel whatever tokio believes: after SIGSTOP and
    /// SIGCONT, epoll_wait returns EINTR (signal(7)) and tokio sees no
    /// readiness until its next turn, though datagrams wait in the socket.
    /// On `WouldBlock` tokio's readiness is cleared, so that
    /// [`readable`](Self::readable) waits for the next datagram (one
    /// thread runs the runtime: no datagram can slip between the two).
    pub(super) fn try_recv(&mut self) -> io::Result<Datagram> {
        let Self { socket, buf, cmsg } = self;
        let fd = socket.as_raw_fd();
        match receive_once(fd, buf, cmsg) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let _ = socket.try_io(Interest::READABLE, || {
                    Err::<(), _>(io::Error::from(io::ErrorKind::WouldBlock))
                });
                Err(e)
            }
            other => other,
        }
    }
}

/// One non-blocking `recvmsg`, with the control messages decoded.
fn receive_once(fd: i32, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Datagram> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT)?;
    let source = msg
        .address
        .as_ref()
        .and_then(socket_ip)
        .ok_or_else(|| io::Error::other("datagram without a source address"))?;
    let mut datagram = Datagram {
        bytes: Vec::new(),
        source,
        destination: None,
        ifindex: None,
        ttl: None,
    };
    // A truncated control buffer (ENOBUFS) leaves the TTL unknown, and the
    // packet is then dropped by the TTL check.
    if let Ok(cmsgs) = msg.cmsgs() {
        for message in cmsgs {
            match message {
                ControlMessageOwned::Ipv4Ttl(ttl) | ControlMessageOwned::Ipv6HopLimit(ttl) => {
                    datagram.ttl = u8::try_from(ttl).ok();
                }
                ControlMessageOwned::Ipv4PacketInfo(info) => {
                    let address = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                    datagram.destination = Some(address.into());
                    datagram.ifindex = u32::try_from(info.ipi_ifindex).ok();
                }
                ControlMessageOwned::Ipv6PacketInfo(info) => {
                    datagram.destination = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr).into());
                    datagram.ifindex = Some(info.ipi6_ifindex);
                }
                _ => {}
            }
        }
    }
    let len = msg.bytes;
    datagram.bytes = buf.get(..len).unwrap_or_default().to_vec();
    Ok(datagram)
}

fn socket_ip(address: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(v4.ip().into());
    }
    address.as_sockaddr_in6().map(|v6| v6.ip().into())
}

/// The socket a session sends from: source port in 49152-65535, stable for
/// the session's life (RFC 5881 section 4), TTL 255, bound to the local
/// address and the interface when configured.
#[derive(Debug)]
pub(super) struct Sender {
    socket: UdpSocket,
    destination: SocketAddr,
    pub(super) source_port: u16,
}

impl Sender {
    pub(super) fn open(
        peer: IpAddr,
        port: u16,
        local: Option<IpAddr>,
        interface: Option<&str>,
        ifindex: Option<u32>,
        rng: &mut SplitMix64,
    ) -> io::Result<Self> {
        let socket = match peer {
            IpAddr::V4(_) => {
                let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                socket.set_ttl_v4(255)?;
                socket
            }
            IpAddr::V6(_) => {
                let socket = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
                socket.set_only_v6(true)?;
                socket.set_unicast_hops_v6(255)?;
                socket
            }
        };
        if let Some(interface) = interface {
            socket.bind_device(Some(interface.as_bytes()))?;
        }
        socket.set_nonblocking(true)?;
        let source_port = bind_source_port(&socket, peer, local, ifindex, rng)?;
        let destination = match peer {
            IpAddr::V6(v6) if is_link_local(&v6) => {
                SocketAddr::V6(SocketAddrV6::new(v6, port, 0, ifindex.unwrap_or(0)))
            }
            _ => SocketAddr::new(peer, port),
        };
        Ok(Self {
            socket: UdpSocket::from_std(socket.into())?,
            destination,
            source_port,
        })
    }

    /// Sends without waiting: a full socket buffer loses this packet, as a
    /// congested link would.
    pub(super) fn send(&self, bytes: &[u8]) -> io::Result<usize> {
        self.socket.try_send_to(bytes, self.destination)
    }
}

/// Binds a random free port of [`SOURCE_PORTS`], trying a few.
fn bind_source_port(
    socket: &Socket,
    peer: IpAddr,
    local: Option<IpAddr>,
    ifindex: Option<u32>,
    rng: &mut SplitMix64,
) -> io::Result<u16> {
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for _ in 0..64 {
        let offset = u16::try_from(rng.next_u32() % span).unwrap_or(0);
        let port = SOURCE_PORTS.start() + offset;
        let address = match (local, peer) {
            (Some(IpAddr::V6(v6)), _) if is_link_local(&v6) => {
                SocketAddr::V6(SocketAddrV6::new(v6, port, 0, ifindex.unwrap_or(0)))
            }
            (Some(local), _) => SocketAddr::new(local, port),
            (None, IpAddr::V4(_)) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            (None, IpAddr::V6(_)) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        };
        match socket.bind(&address.into()) {
            Ok(()) => return Ok(port),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn is_link_local(address: &Ipv6Addr) -> bool {
    address
        .segments()
        .first()
        .is_some_and(|s| s & 0xffc0 == 0xfe80)
}

/// The index of an interface, by name.
pub(super) fn ifindex(name: &str) -> Option<u32> {
    nix::net::if_::if_nametoindex(name).ok()
}

/// The name of an interface, by index.
pub(super) fn ifname(index: u32) -> Option<String> {
    nix::net::if_::if_indextoname(index)
        .ok()
        .and_then(|name| name.into_string().ok())
}
