use async_trait::async_trait;
use signpost_domain::{ProfileId, TenantId, Timestamp};
use sqlx::AnyConnection;

use super::rows::{self, PROFILE_COLUMNS};
use super::{NewEvent, SqlRegistry, append_events, unavailable};
use crate::registry::{
    ChangeContext, Profile, ProfileRepo, ProfileSpec, RegistryError, RegistryResult, Written,
};

fn target(id: &ProfileId) -> String {
    format!("profile/{id}")
}

impl SqlRegistry {
    /// The profile as it is now, locked until the transaction ends.
    async fn profile_for_update(
        &self,
        conn: &mut AnyConnection,
        tenant: &TenantId,
        id: &ProfileId,
    ) -> RegistryResult<Option<Profile>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE tenant_id = $1 AND id = $2{}",
            self.engine.lock_rows()
        );
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(conn)
            .await
            .map_err(unavailable)?
            .map(|row| rows::profile(&row))
            .transpose()
    }
}

#[async_trait]
impl ProfileRepo for SqlRegistry {
    async fn put(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: ProfileSpec,
    ) -> RegistryResult<Written<Profile>> {
        let mut tx = self.begin_write().await?;
        let tenant_exists: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM tenants WHERE id = $1{}",
            self.engine.lock_rows()
        ))
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        if tenant_exists.is_none() {
            return Err(RegistryError::TenantNotFound);
        }
        let before = self.profile_for_update(&mut tx, tenant, &spec.id).await?;
        let now = Timestamp::now();
        let settings = rows::settings_json(&spec.extra_settings);
        let written = match before {
            Some(before) if before.spec == spec => return Ok(Written::Unchanged(before)),
            Some(before) => {
                sqlx::query(
                    "UPDATE profiles SET setting_server = $3, extra_settings = $4, updated_at = $5 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_str())
                .bind(spec.id.as_str())
                .bind(spec.setting_server.as_str())
                .bind(settings)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                let after = Profile {
                    tenant: tenant.clone(),
                    spec,
                    created_at: before.created_at,
                    updated_at: now,
                };
                let event = NewEvent::new(
                    Some(tenant),
                    "profile.update",
                    target(&after.spec.id),
                    Some(&before),
                    Some(&after),
                );
                append_events(&mut tx, change, now, vec![event]).await?;
                Written::Updated(after)
            }
            None => {
                sqlx::query(
                    "INSERT INTO profiles (tenant_id, id, setting_server, extra_settings, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(tenant.as_str())
                .bind(spec.id.as_str())
                .bind(spec.setting_server.as_str())
                .bind(settings)
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                let after = Profile {
                    tenant: tenant.clone(),
                    spec,
                    created_at: now,
                    updated_at: now,
                };
                let event = NewEvent::new(
                    Some(tenant),
                    "profile.create",
                    target(&after.spec.id),
                    None,
                    Some(&after),
                );
                append_events(&mut tx, change, now, vec![event]).await?;
                Written::Created(after)
            }
        };
        tx.commit().await.map_err(unavailable)?;
        Ok(written)
    }

    async fn get(&self, tenant: &TenantId, id: &ProfileId) -> RegistryResult<Option<Profile>> {
        let sql =
            format!("SELECT {PROFILE_COLUMNS} FROM profiles WHERE tenant_id = $1 AND id = $2");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| rows::profile(&row))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        after: Option<&ProfileId>,
        limit: u32,
    ) -> RegistryResult<Vec<Profile>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(after.map_or("", ProfileId::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::profile)
            .collect()
    }

    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        id: &ProfileId,
    ) -> RegistryResult<bool> {
        let mut tx = self.begin_write().await?;
        let Some(before) = self.profile_for_update(&mut tx, tenant, id).await? else {
            return Ok(false);
        };
        let devices: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM devices WHERE tenant_id = $1 AND profile_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        if devices > 0 {
            return Err(RegistryError::ProfileInUse { devices });
        }
        sqlx::query("DELETE FROM profiles WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let now = Timestamp::now();
        let event = NewEvent::new(
            Some(tenant),
            "profile.delete",
            target(id),
            Some(&before),
            None,
        );
        append_events(&mut tx, change, now, vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }
}
