//! The hostroute lab: network namespaces, links between them, and real
//! routing daemons started inside them, each owned by a guard that cleans up
//! on drop (success, failure or panic).
