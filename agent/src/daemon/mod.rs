//! The hypervisor daemon: its owner task ([`controller`]) and the loop that
//! feeds it.
pub mod controller;
pub mod run;
