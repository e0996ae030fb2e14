//! BGP
