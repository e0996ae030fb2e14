//! Kernel FIB sync.
