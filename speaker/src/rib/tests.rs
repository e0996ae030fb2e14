//! RIB-level tests.
