//! BGP sessions: sans-IO finite state machine and its tokio driver.

pub mod sockopt;
