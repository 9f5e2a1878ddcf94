//! Signpost's domain: the types every other crate speaks, each constructible only in a valid
//! state, and the pure rules over them. No I/O lives here.

mod file_path;
mod mac;
mod mac_ranges;
mod phone_setting;
mod phone_type;
mod role;
mod setting_server;
mod settings_document;
mod slug;
mod template;
mod timestamp;
mod user_agent;

pub use file_path::{FilePath, FilePathError};
pub use mac::{Mac, MacError};
pub use mac_ranges::phone_type_for_mac;
pub use phone_setting::{Permission, PhoneSetting, PhoneSettingError, SettingName, SettingValue};
pub use phone_type::{FirmwareVersion, PhoneType, PhoneTypeError};
pub use role::Role;
pub use setting_server::{HOSTED, SettingServerUrl, SettingServerUrlError};
pub use settings_document::{SettingsFormat, escape_xml_into, render_settings};
pub use slug::{ProfileId, SlugError, TenantId};
pub use template::{TemplateVars, expand_template};
pub use timestamp::Timestamp;
pub use user_agent::{UserAgentInfo, parse_user_agent};
