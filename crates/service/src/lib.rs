//! Signpost's use cases over the storage ports. The API layer calls these; they never see
//! which adapter is behind a port.

mod api_keys;
pub mod auth;
mod devices;
mod error;
mod events;
pub mod files;
pub mod phone;
mod profiles;
pub mod readiness;
mod snom;
mod tenants;

pub use api_keys::ApiKeys;
pub use auth::{AuthCtx, AuthError, Authenticator, Denied, IssuedToken, KeyMaterial, SigningKeys};
pub use devices::{Devices, MAX_BATCH};
pub use error::{ServiceError, ServiceResult};
pub use events::Events;
pub use profiles::Profiles;
pub use readiness::{Probe, Readiness, ReadinessReport, probe};
pub use snom::{PhoneRedirection, SnomError, SnomRedirect, SnomResult};
pub use tenants::Tenants;
