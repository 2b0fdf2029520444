//! A reference model of the lifecycle (being written).
