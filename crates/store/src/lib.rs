//! Signpost's storage ports and their adapters. Each port is a small object-safe async trait
//! with an embedded adapter (SQLite, local directory, in-process cache) and a production one
//! (PostgreSQL, S3, Redis). Which adapter runs is decided once, in the server's wiring.

pub mod blobs;
pub mod cache;
pub mod expiring;
pub mod keyed;
pub mod ratelimit;
pub mod registry;
