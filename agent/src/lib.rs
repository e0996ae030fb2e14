//! hostroute's hypervisor daemon: VM detection, anycast gateway, kernel FIB
//! sync and mobility, driving the speaker.
//!
//! The control socket ([`control`]) and the operator CLI ([`cli`], the
//! `hostroute` binary) are how people and libvirt's qemu hook
//! (`agent/hooks/qemu`) talk to the daemon.
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod detect;
pub mod fib;
pub mod gateway;
pub mod inventory;
pub mod mobility;
