//! Wire codecs for hostroute.
pub mod bfd;
pub mod bgp;
