//! Signpost's domain: the types every other crate speaks, each constructible only in a valid
//! state, and the pure rules over them. No I/O lives here.

mod mac;
mod phone_type;
mod setting_server;
mod slug;
mod user_agent;

pub use mac::{Mac, MacError};
pub use phone_type::{FirmwareVersion, PhoneType, PhoneTypeError};
pub use setting_server::{SettingServerUrl, SettingServerUrlError};
pub use slug::{ProfileId, SlugError, TenantId};
pub use user_agent::{UserAgentInfo, parse_user_agent};
