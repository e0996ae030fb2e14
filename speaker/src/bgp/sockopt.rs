//! Socket options for BGP sessions that std and socket2 lack: TCP-MD5
//! signatures (RFC 2385) and the Generalized TTL Security Mechanism
//! (RFC 5082), plus binding a session to an interface or a local address.
//!
//! This is the speaker's one audited `unsafe` module: it makes `setsockopt`
//! calls with C structures the kernel defines. Everything else goes through
//! socket2. The options are Linux's; elsewhere every function returns
//! [`io::ErrorKind::Unsupported`].
//!
//! How a session uses them:
//! - passive side: set one MD5 key per configured peer on the **listener**
//!   before `accept`; accepted sockets inherit the key and GTSM settings;
//! - active side: create the socket with socket2, set the options, then
//!   connect (or hand it to `tokio::net::TcpSocket::from_std_stream`).
//!
//! All functions take anything that owns or borrows a socket descriptor
//! (`&TcpListener`, `&socket2::Socket`, `BorrowedFd`, tokio sockets) and
//! read the socket's family themselves: on an IPv6 socket an IPv4 peer is
//! handled as its IPv4-mapped address, and GTSM sets both the IPv6 and the
//! IPv4 options so v4-mapped sessions are covered too.

#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;

/// Longest RFC 2385 key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// Installs the TCP-MD5 `key` for connections with `peer` on `socket` (a
/// listener before `accept`, or a socket before `connect`). An empty key
/// removes the peer's key.
pub fn set_md5_key(socket: &impl AsFd, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    sys::set_md5_key(socket.as_fd(), peer, None, key)
}

/// Like [`set_md5_key`] for every peer inside `peer/prefix_len`
/// (`TCP_MD5SIG_EXT` with a prefix), for listeners that accept a range.
pub fn set_md5_key_for_prefix(
    socket: &impl AsFd,
    peer: IpAddr,
    prefix_len: u8,
    key: &[u8],
) -> io::Result<()> {
    let max = if peer.is_ipv4() { 32 } else { 128 };
    if prefix_len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("MD5 key prefix /{prefix_len} is longer than /{max}"),
        ));
    }
    sys::set_md5_key(socket.as_fd(), peer, Some(prefix_len), key)
}

/// Removes the TCP-MD5 key for `peer`.
pub fn remove_md5_key(socket: &impl AsFd, peer: IpAddr) -> io::Result<()> {
    set_md5_key(socket, peer, &[])
}

/// GTSM (RFC 5082) for a peer `hops` away (1 for a directly connected
/// one): send with TTL / hop limit 255 and drop anything that arrives with
/// less than `256 - hops`.
pub fn set_gtsm(socket: &impl AsFd, hops: u8) -> io::Result<()> {
    if hops == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "GTSM needs at least one hop",
        ));
    }
    set_outgoing_ttl(socket, 255)?;
    set_min_ttl(socket, 255 - (hops - 1))
}

/// Sets the TTL (IPv4) or unicast hop limit (IPv6, and IPv4 on a dual-stack
/// IPv6 socket) of outgoing packets.
pub fn set_outgoing_ttl(socket: &impl AsFd, ttl: u8) -> io::Result<()> {
    sys::set_outgoing_ttl(socket.as_fd(), ttl)
}

/// Drops incoming packets with a TTL / hop limit below `min` (`IP_MINTTL`,
/// `IPV6_MINHOPCOUNT`; both on an IPv6 socket). 0 turns the check off.
pub fn set_min_ttl(socket: &impl AsFd, min: u8) -> io::Result<()> {
    sys::set_min_ttl(socket.as_fd(), min)
}

/// Binds the socket to an interface (`SO_BINDTODEVICE`): its packets leave
/// and are accepted only there.
pub fn bind_device(socket: &impl AsFd, interface: &str) -> io::Result<()> {
    sys::bind_device(socket.as_fd(), interface)
}

/// Binds the socket to a local address (any port), e.g. the session's
/// update source before `connect`.
pub fn bind_address(socket: &impl AsFd, address: IpAddr) -> io::Result<()> {
    let address = std::net::SocketAddr::new(address, 0);
    socket2::SockRef::from(socket).bind(&address.into())
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::{AsRawFd, BorrowedFd};

    use socket2::{Domain, SockAddr, SockAddrStorage, SockRef};

    use super::MD5_MAX_KEY_LEN;

    /// `TCP_MD5SIG_FLAG_PREFIX` from `<linux/tcp.h>` (not in libc).
    const TCP_MD5SIG_FLAG_PREFIX: u8 = 0x1;

    /// `struct tcp_md5sig` from `<linux/tcp.h>`. `SockAddrStorage` is
    /// socket2's `#[repr(transparent)]` wrapper of `struct
    /// sockaddr_storage`, so the layout is the kernel's: 128 + 1 + 1 + 2 +
    /// 4 + 80 = 216 bytes, without padding between fields.
    #[repr(C)]
    struct TcpMd5Sig {
        tcpm_addr: SockAddrStorage,
        tcpm_flags: u8,
        tcpm_prefixlen: u8,
        tcpm_keylen: u16,
        tcpm_ifindex: i32,
        tcpm_key: [u8; MD5_MAX_KEY_LEN],
    }

    const _: () = assert!(size_of::<TcpMd5Sig>() == 216);
    const _: () = assert!(size_of::<SockAddrStorage>() == size_of::<libc::sockaddr_storage>());

    /// `setsockopt(fd, level, name, value, size_of::<T>())`.
    ///
    /// Only for the option value types this module defines for the kernel
    /// (`c_int`, [`TcpMd5Sig`]).
    fn setsockopt<T>(
        fd: BorrowedFd<'_>,
        level: libc::c_int,
        name: libc::c_int,
        value: &T,
    ) -> io::Result<()> {
        let len = libc::socklen_t::try_from(size_of::<T>())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option too large"))?;
        // SAFETY: `fd` is a live descriptor for the duration of the borrow;
        // the pointer comes from a reference, so it is valid and aligned for
        // `len` bytes, and the kernel only reads from it (copy_from_user of
        // `len` bytes). An option of the wrong shape is rejected by the
        // kernel with EINVAL, it cannot make it write to our memory.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                std::ptr::from_ref(value).cast::<libc::c_void>(),
                len,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn is_ipv6(fd: BorrowedFd<'_>) -> io::Result<bool> {
        let domain = SockRef::from(&fd).domain()?;
        if domain == Domain::IPV6 {
            Ok(true)
        } else if domain == Domain::IPV4 {
            Ok(false)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an IPv4 or IPv6 socket",
            ))
        }
    }

    pub(super) fn set_md5_key(
        fd: BorrowedFd<'_>,
        peer: IpAddr,
        prefix_len: Option<u8>,
        key: &[u8],
    ) -> io::Result<()> {
        if key.len() > MD5_MAX_KEY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "TCP-MD5 key of {} bytes; at most {MD5_MAX_KEY_LEN}",
                    key.len()
                ),
            ));
        }
        // The address family must be the socket's: IPv4 peers of an IPv6
        // socket are v4-mapped (the kernel stores them as IPv4 keys).
        let (peer, prefix_len) = match (peer, is_ipv6(fd)?) {
            (IpAddr::V4(v4), true) => (IpAddr::V6(v4.to_ipv6_mapped()), prefix_len.map(|p| p + 96)),
            (IpAddr::V6(_), false) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "IPv6 peer on an IPv4 socket",
                ));
            }
            (peer, _) => (peer, prefix_len),
        };
        let keylen = u16::try_from(key.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "TCP-MD5 key too long"))?;
        let mut sig = TcpMd5Sig {
            tcpm_addr: SockAddr::from(SocketAddr::new(peer, 0)).as_storage(),
            tcpm_flags: 0,
            tcpm_prefixlen: 0,
            tcpm_keylen: keylen,
            tcpm_ifindex: 0,
            tcpm_key: [0; MD5_MAX_KEY_LEN],
        };
        for (dst, src) in sig.tcpm_key.iter_mut().zip(key) {
            *dst = *src;
        }
        let name = match prefix_len {
            Some(len) => {
                sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
                sig.tcpm_prefixlen = len;
                libc::TCP_MD5SIG_EXT
            }
            None => libc::TCP_MD5SIG,
        };
        setsockopt(fd, libc::IPPROTO_TCP, name, &sig)
    }

    pub(super) fn set_outgoing_ttl(fd: BorrowedFd<'_>, ttl: u8) -> io::Result<()> {
        let socket = SockRef::from(&fd);
        if is_ipv6(fd)? {
            socket.set_unicast_hops_v6(u32::from(ttl))?;
        }
        socket.set_ttl_v4(u32::from(ttl))
    }

    pub(super) fn set_min_ttl(fd: BorrowedFd<'_>, min: u8) -> io::Result<()> {
        let min = libc::c_int::from(min);
        if is_ipv6(fd)? {
            setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)?;
        }
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min)
    }

    pub(super) fn bind_device(fd: BorrowedFd<'_>, interface: &str) -> io::Result<()> {
        SockRef::from(&fd).bind_device(Some(interface.as_bytes()))
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;
    use std::net::IpAddr;
    use std::os::fd::BorrowedFd;

    fn unsupported(what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{what} is only implemented on Linux"),
        )
    }

    pub(super) fn set_md5_key(
        _: BorrowedFd<'_>,
        _: IpAddr,
        _: Option<u8>,
        _: &[u8],
    ) -> io::Result<()> {
        Err(unsupported("TCP-MD5"))
    }

    pub(super) fn set_outgoing_ttl(_: BorrowedFd<'_>, _: u8) -> io::Result<()> {
        Err(unsupported("setting the TTL"))
    }

    pub(super) fn set_min_ttl(_: BorrowedFd<'_>, _: u8) -> io::Result<()> {
        Err(unsupported("a minimum TTL"))
    }

    pub(super) fn bind_device(_: BorrowedFd<'_>, _: &str) -> io::Result<()> {
        Err(unsupported("SO_BINDTODEVICE"))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn socket(domain: Domain) -> Socket {
        Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).unwrap()
    }

    #[test]
    fn md5_keys_install_on_both_families_and_v4_peers_map_on_v6_sockets() {
        let v4 = socket(Domain::IPV4);
        set_md5_key(&v4, Ipv4Addr::new(192, 0, 2, 2).into(), b"s3cret").unwrap();
        set_md5_key_for_prefix(&v4, Ipv4Addr::new(192, 0, 2, 0).into(), 24, b"s3cret").unwrap();
        remove_md5_key(&v4, Ipv4Addr::new(192, 0, 2, 2).into()).unwrap();
        let v6 = socket(Domain::IPV6);
        set_md5_key(&v6, "2001:db8::2".parse::<Ipv6Addr>().unwrap().into(), b"k").unwrap();
        set_md5_key(&v6, Ipv4Addr::new(192, 0, 2, 2).into(), b"k").unwrap();
        assert_eq!(
            set_md5_key(&v4, "2001:db8::2".parse::<Ipv6Addr>().unwrap().into(), b"k")
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            set_md5_key(&v4, Ipv4Addr::new(192, 0, 2, 2).into(), &[0; 81])
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        assert!(set_md5_key_for_prefix(&v4, Ipv4Addr::new(192, 0, 2, 0).into(), 33, b"k").is_err());
    }

    #[test]
    fn gtsm_sets_ttl_255_and_the_minimum() {
        for domain in [Domain::IPV4, Domain::IPV6] {
            let s = socket(domain);
            set_gtsm(&s, 1).unwrap();
            assert_eq!(s.ttl_v4().unwrap(), 255);
            if domain == Domain::IPV6 {
                assert_eq!(s.unicast_hops_v6().unwrap(), 255);
            }
        }
        assert!(set_gtsm(&socket(Domain::IPV4), 0).is_err());
    }
}
