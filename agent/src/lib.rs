//! hostroute's hypervisor daemon: VM detection, anycast gateway, kernel FIB
//! sync and mobility, driving the speaker. Modules land with the agent issue.
pub mod cli;
pub mod control;
pub mod detect;
pub mod fib;
pub mod gateway;
pub mod inventory;
