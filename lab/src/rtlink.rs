//! Link changes over a route netlink socket opened inside a namespace:
//! down, up, and moving an interface to another namespace, each one
//! `RTM_SETLINK` and its acknowledgement, with no process started.
//!
//! A live migration's timing depends on these: an `ip` process costs
//! milliseconds to start on a busy machine (about 10 ms each on the shared
//! development machine), which the VM would spend unplugged beyond its
//! configured blackout. Sockets are opened before the move (a socket
//! belongs to the namespace it was created in, see [`crate::nsthread`]).
//!
//! ```text
//!   nlmsghdr (16) | ifinfomsg (16): index 0, flags, change | IFLA_IFNAME
//!                                          | IFLA_NET_NS_FD or IFLA_MASTER
//! ```
//! The interface is named, not indexed: its index may change when it
//! moves to another namespace.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{NetlinkAddr, bind};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::nsthread;

const NETLINK_ROUTE: i32 = 0;
const AF_NETLINK: i32 = 16;
const RTM_SETLINK: u16 = 19;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_NET_NS_FD: u16 = 28;
const IFF_UP: u32 = 0x1;

/// A route netlink socket in one namespace.
pub struct LinkControl {
    netns: String,
    socket: Socket,
    seq: u32,
}

impl LinkControl {
    /// Opens the socket inside `netns`.
    pub fn open(netns: &str) -> Result<LinkControl> {
        let socket = nsthread::run(netns, || {
            let io = |what| move |e| Error::io(what, "a route netlink socket", e);
            let socket = Socket::new(
                Domain::from(AF_NETLINK),
                Type::RAW,
                Some(Protocol::from(NETLINK_ROUTE)),
            )
            .map_err(io("opening"))?;
            bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 0))
                .map_err(|e| io("binding")(e.into()))?;
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(io("setting a timeout on"))?;
            Ok(socket)
        })?;
        Ok(LinkControl {
            netns: netns.to_string(),
            socket,
            seq: 0,
        })
    }

    /// The index of interface `name` in this namespace.
    pub fn index_of(&self, name: &str) -> Result<u32> {
        let name = name.to_string();
        nsthread::run(&self.netns, move || {
            nix::net::if_::if_nametoindex(name.as_str())
                .map_err(|e| Error::io("looking up", name.clone(), e.into()))
        })
    }

    /// Sets `iface` administratively up or down.
    pub fn set_up(&mut self, iface: &str, up: bool) -> Result<()> {
        let flags = if up { IFF_UP } else { 0 };
        self.request(iface, flags, IFF_UP, &[])
    }

    /// Makes `iface` a port of the bridge with index `master`, and up.
    pub fn enslave_up(&mut self, iface: &str, master: u32) -> Result<()> {
        self.request(iface, IFF_UP, IFF_UP, &[(IFLA_MASTER, master)])
    }

    /// Moves `iface` into namespace `to` (a name under `/run/netns`).
    pub fn move_to(&mut self, iface: &str, to: &str) -> Result<()> {
        let path = Path::new("/run/netns").join(to);
        let file = File::open(&path).map_err(|e| Error::io("opening namespace", &path, e))?;
        let fd = u32::try_from(file.as_raw_fd())
            .map_err(|_| Error::Config(format!("odd descriptor for {}", path.display())))?;
        self.request(iface, 0, 0, &[(IFLA_NET_NS_FD, fd)])
    }

    fn request(
        &mut self,
        iface: &str,
        flags: u32,
        change: u32,
        attrs: &[(u16, u32)],
    ) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let message = setlink_message(self.seq, iface, flags, change, attrs);
        let what = format!("RTM_SETLINK {iface} in {}", self.netns);
        let io = |e| Error::io("sending", what.clone(), e);
        (&self.socket).write_all(&message).map_err(io)?;
        let mut buf = [0u8; 4096];
        loop {
            let n = (&self.socket)
                .read(&mut buf)
                .map_err(|e| Error::io("awaiting the answer to", what.clone(), e))?;
            match ack_of(buf.get(..n).unwrap_or_default(), self.seq) {
                Some(0) => return Ok(()),
                Some(errno) => {
                    return Err(Error::io(
                        "changing a link:",
                        what,
                        std::io::Error::from_raw_os_error(errno),
                    ));
                }
                None => continue,
            }
        }
    }
}

/// An `RTM_SETLINK` request for the interface named `iface`.
fn setlink_message(
    seq: u32,
    iface: &str,
    flags: u32,
    change: u32,
    attrs: &[(u16, u32)],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&0u32.to_ne_bytes()); // length, set below
    m.extend_from_slice(&RTM_SETLINK.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    // ifinfomsg: family, pad, type, index 0 (by name), flags, change.
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&0i32.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&change.to_ne_bytes());
    let mut name = iface.as_bytes().to_vec();
    name.push(0);
    push_attr(&mut m, IFLA_IFNAME, &name);
    for (kind, value) in attrs {
        push_attr(&mut m, *kind, &value.to_ne_bytes());
    }
    let len = u32::try_from(m.len()).unwrap_or(u32::MAX).to_ne_bytes();
    m.splice(0..4, len);
    m
}

fn push_attr(m: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(data);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
}

/// The errno (0: success) of the `NLMSG_ERROR` answering `seq` in `buf`.
fn ack_of(mut buf: &[u8], seq: u32) -> Option<i32> {
    let u32_at = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    while let Some(len) = u32_at(buf, 0) {
        let len = usize::try_from(len).ok()?;
        if len < 16 {
            return None;
        }
        let kind = buf
            .get(4..6)
            .and_then(|s| s.try_into().ok())
            .map(u16::from_ne_bytes)?;
        if kind == NLMSG_ERROR && u32_at(buf, 8) == Some(seq) {
            let error = u32_at(buf, 16).map(|e| e as i32)?;
            return Some(-error);
        }
        buf = buf.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setlink_names_the_interface_and_pads_attributes() {
        let m = setlink_message(7, "tap-vm1", IFF_UP, IFF_UP, &[(IFLA_NET_NS_FD, 9)]);
        // 16 header + 16 ifinfomsg + (4 + 8) name + (4 + 4) fd.
        assert_eq!(m.len(), 52);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 52);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), RTM_SETLINK);
        assert_eq!(&m[36..44], b"tap-vm1\0");
        assert_eq!(u32::from_ne_bytes(m[48..52].try_into().unwrap()), 9);
    }

    #[test]
    fn the_acknowledgement_carries_the_errno() {
        let mut ack = Vec::new();
        ack.extend_from_slice(&36u32.to_ne_bytes());
        ack.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack.extend_from_slice(&0u16.to_ne_bytes());
        ack.extend_from_slice(&3u32.to_ne_bytes());
        ack.extend_from_slice(&0u32.to_ne_bytes());
        ack.extend_from_slice(&(-19i32).to_ne_bytes());
        ack.extend_from_slice(&[0; 16]);
        assert_eq!(ack_of(&ack, 3), Some(19));
        assert_eq!(ack_of(&ack, 4), None);
        assert_eq!(ack_of(&[1, 2], 3), None);
    }
}
