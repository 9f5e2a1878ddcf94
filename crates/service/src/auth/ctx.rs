//! Who is calling, and what they may do.

use signpost_domain::{Role, TenantId};
use signpost_store::registry::ChangeContext;

/// The caller behind an authenticated request: an API key's id, tenant and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCtx {
    pub key_id: String,
    /// `None` for a platform-wide key.
    pub tenant: Option<TenantId>,
    pub role: Role,
}

/// Why a caller may not do something. Another tenant's resource is `NotFound`, never
/// `Forbidden`, so a caller cannot learn which tenants exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("not found")]
    NotFound,
    #[error("the key's role does not allow this")]
    Forbidden,
}

impl AuthCtx {
    /// Reading inside `tenant`: platform admins, or any key of that tenant.
    pub fn read(&self, tenant: &TenantId) -> Result<(), Denied> {
        match self.role {
            Role::PlatformAdmin => Ok(()),
            Role::TenantAdmin | Role::TenantReader if self.owns(tenant) => Ok(()),
            Role::TenantAdmin | Role::TenantReader => Err(Denied::NotFound),
        }
    }

    /// Changing anything inside `tenant`, including its keys: platform admins, or tenant
    /// admins of that tenant.
    pub fn write(&self, tenant: &TenantId) -> Result<(), Denied> {
        self.read(tenant)?;
        match self.role {
            Role::PlatformAdmin | Role::TenantAdmin => Ok(()),
            Role::TenantReader => Err(Denied::Forbidden),
        }
    }

    /// Platform-wide operations (creating tenants, listing them, platform keys).
    pub fn platform(&self) -> Result<(), Denied> {
        match self.role {
            Role::PlatformAdmin => Ok(()),
            Role::TenantAdmin | Role::TenantReader => Err(Denied::Forbidden),
        }
    }

    /// The audit trail's "who" for a change this caller makes.
    pub fn change(&self, request_id: Option<String>) -> ChangeContext {
        ChangeContext {
            actor: self.key_id.clone(),
            request_id,
        }
    }

    fn owns(&self, tenant: &TenantId) -> bool {
        self.tenant.as_ref() == Some(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(role: Role, tenant: Option<&str>) -> AuthCtx {
        AuthCtx {
            key_id: "spk_test".into(),
            tenant: tenant.map(|t| t.parse().unwrap()),
            role,
        }
    }

    #[test]
    fn the_role_matrix() {
        let acme: TenantId = "acme".parse().unwrap();
        let other: TenantId = "other".parse().unwrap();
        use Denied::*;
        // (caller, read acme, write acme, read other, write other, platform)
        type Row = (AuthCtx, [Result<(), Denied>; 5]);
        let rows: [Row; 3] = [
            (
                ctx(Role::PlatformAdmin, None),
                [Ok(()), Ok(()), Ok(()), Ok(()), Ok(())],
            ),
            (
                ctx(Role::TenantAdmin, Some("acme")),
                [Ok(()), Ok(()), Err(NotFound), Err(NotFound), Err(Forbidden)],
            ),
            (
                ctx(Role::TenantReader, Some("acme")),
                [
                    Ok(()),
                    Err(Forbidden),
                    Err(NotFound),
                    Err(NotFound),
                    Err(Forbidden),
                ],
            ),
        ];
        for (caller, expected) in rows {
            let got = [
                caller.read(&acme),
                caller.write(&acme),
                caller.read(&other),
                caller.write(&other),
                caller.platform(),
            ];
            assert_eq!(got, expected, "{caller:?}");
        }
    }

    #[test]
    fn changes_are_attributed_to_the_key() {
        let change = ctx(Role::TenantAdmin, Some("acme")).change(Some("req-1".into()));
        assert_eq!(change.actor, "spk_test");
        assert_eq!(change.request_id.as_deref(), Some("req-1"));
    }
}
