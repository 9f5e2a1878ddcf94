//! Signpost's use cases over the storage ports. The API layer calls these; they never see
//! which adapter is behind a port.

pub mod readiness;

pub use readiness::{Probe, Readiness, ReadinessReport, probe};
