//! BFD
