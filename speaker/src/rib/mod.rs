//! Routing information bases and the decision process.
