use serde::{Deserialize, Serialize};

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// All tenants: creates tenants and keys.
    PlatformAdmin,
    /// Everything inside one tenant, including its keys.
    TenantAdmin,
    /// One tenant, read only.
    TenantReader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform-admin",
            Role::TenantAdmin => "tenant-admin",
            Role::TenantReader => "tenant-reader",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::PlatformAdmin, Role::TenantAdmin, Role::TenantReader]
            .into_iter()
            .find(|role| role.as_str() == s)
    }
}
