use async_trait::async_trait;
use signpost_domain::{TenantId, Timestamp};
use sqlx::AnyConnection;

use super::rows::{self, TENANT_COLUMNS};
use super::{NewEvent, SqlRegistry, append_events, unavailable};
use crate::registry::{
    ChangeContext, RegistryError, RegistryResult, Tenant, TenantRepo, TenantSpec, Written,
};

fn target(id: &TenantId) -> String {
    format!("tenant/{id}")
}

impl SqlRegistry {
    /// The tenant as it is now, locked until the transaction ends.
    pub(super) async fn tenant_for_update(
        &self,
        conn: &mut AnyConnection,
        id: &TenantId,
    ) -> RegistryResult<Option<Tenant>> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1{}",
            self.engine.lock_rows()
        );
        sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(conn)
            .await
            .map_err(unavailable)?
            .map(|row| rows::tenant(&row))
            .transpose()
    }
}

#[async_trait]
impl TenantRepo for SqlRegistry {
    async fn put(
        &self,
        change: &ChangeContext,
        spec: TenantSpec,
    ) -> RegistryResult<Written<Tenant>> {
        let mut tx = self.begin_write().await?;
        let before = self.tenant_for_update(&mut tx, &spec.id).await?;
        let now = Timestamp::now();
        let written = match before {
            Some(before) if before.spec == spec => return Ok(Written::Unchanged(before)),
            Some(before) => {
                sqlx::query(
                    "UPDATE tenants SET display_name = $2, default_setting_server = $3, status = $4, updated_at = $5 \
                     WHERE id = $1",
                )
                .bind(spec.id.as_str())
                .bind(spec.display_name.clone())
                .bind(spec.default_setting_server.as_ref().map(|u| u.as_str().to_owned()))
                .bind(spec.status.as_str())
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                let after = Tenant {
                    spec,
                    created_at: before.created_at,
                    updated_at: now,
                    file_token_epoch: before.file_token_epoch,
                };
                let event = NewEvent::new(
                    Some(&after.spec.id),
                    "tenant.update",
                    target(&after.spec.id),
                    Some(&before),
                    Some(&after),
                );
                append_events(&mut tx, change, now, vec![event]).await?;
                Written::Updated(after)
            }
            None => {
                sqlx::query(
                    "INSERT INTO tenants (id, display_name, default_setting_server, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(spec.id.as_str())
                .bind(spec.display_name.clone())
                .bind(spec.default_setting_server.as_ref().map(|u| u.as_str().to_owned()))
                .bind(spec.status.as_str())
                .bind(now.unix_millis())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                let after = Tenant {
                    spec,
                    created_at: now,
                    updated_at: now,
                    file_token_epoch: 0,
                };
                let event = NewEvent::new(
                    Some(&after.spec.id),
                    "tenant.create",
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

    async fn get(&self, id: &TenantId) -> RegistryResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| rows::tenant(&row))
            .transpose()
    }

    async fn list(&self, after: Option<&TenantId>, limit: u32) -> RegistryResult<Vec<Tenant>> {
        let sql =
            format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id > $1 ORDER BY id LIMIT $2");
        sqlx::query(&sql)
            .bind(after.map_or("", TenantId::as_str))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::tenant)
            .collect()
    }

    async fn delete(
        &self,
        change: &ChangeContext,
        id: &TenantId,
        force: bool,
    ) -> RegistryResult<bool> {
        let mut tx = self.begin_write().await?;
        let Some(before) = self.tenant_for_update(&mut tx, id).await? else {
            return Ok(false);
        };
        let devices: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM devices WHERE tenant_id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        if devices > 0 && !force {
            return Err(RegistryError::TenantNotEmpty);
        }
        // Children first: the foreign keys have no cascades, so nothing is deleted by accident.
        for table in ["devices", "profiles", "api_keys", "files", "tenants"] {
            let column = if table == "tenants" {
                "id"
            } else {
                "tenant_id"
            };
            sqlx::query(&format!("DELETE FROM {table} WHERE {column} = $1"))
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let now = Timestamp::now();
        let event = NewEvent::new(Some(id), "tenant.delete", target(id), Some(&before), None);
        append_events(&mut tx, change, now, vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn rotate_file_tokens(
        &self,
        change: &ChangeContext,
        id: &TenantId,
    ) -> RegistryResult<Option<u32>> {
        let mut tx = self.begin_write().await?;
        let Some(before) = self.tenant_for_update(&mut tx, id).await? else {
            return Ok(None);
        };
        let epoch = before.file_token_epoch.checked_add(1).ok_or_else(|| {
            RegistryError::Corrupt(format!("tenant {id}: file token epoch exhausted"))
        })?;
        sqlx::query("UPDATE tenants SET file_token_epoch = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(i64::from(epoch))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let json = |n: u32| serde_json::json!({ "file_token_epoch": n });
        let event = NewEvent::new(
            Some(id),
            "tenant.rotate_file_tokens",
            target(id),
            Some(&json(before.file_token_epoch)),
            Some(&json(epoch)),
        );
        append_events(&mut tx, change, Timestamp::now(), vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(epoch))
    }
}
