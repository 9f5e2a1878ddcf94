use async_trait::async_trait;
use signpost_domain::{Role, TenantId, Timestamp};
use sqlx::any::AnyRow;

use super::rows;
use super::{NewEvent, SqlRegistry, append_events, corrupt, unavailable};
use crate::registry::{ApiKey, ChangeContext, KeyRepo, NewApiKey, RegistryError, RegistryResult};

const KEY_COLUMNS: &str =
    "id, tenant_id, role, secret_hash, description, created_at, last_used_at, revoked_at";

fn target(id: &str) -> String {
    format!("key/{id}")
}

/// The WHERE clause that keeps a query inside one tenant scope; `$n` binds the tenant when
/// there is one. Platform-wide keys (NULL tenant) are a scope of their own, never a wildcard.
fn scope(tenant: Option<&TenantId>, n: usize) -> String {
    match tenant {
        Some(_) => format!("tenant_id = ${n}"),
        None => "tenant_id IS NULL".to_owned(),
    }
}

fn key(row: &AnyRow) -> RegistryResult<ApiKey> {
    let role = rows::text(row, "role")?;
    let opt_time = |column: &str| -> RegistryResult<Option<Timestamp>> {
        sqlx::Row::try_get::<Option<i64>, _>(row, column)
            .map(|t| t.map(Timestamp::from_unix_millis))
            .map_err(unavailable)
    };
    Ok(ApiKey {
        id: rows::text(row, "id")?,
        tenant: rows::opt_parsed(row, "tenant_id")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        description: rows::opt_text(row, "description")?,
        created_at: rows::time(row, "created_at")?,
        last_used_at: opt_time("last_used_at")?,
        revoked_at: opt_time("revoked_at")?,
        secret_hash: rows::text(row, "secret_hash")?,
    })
}

#[async_trait]
impl KeyRepo for SqlRegistry {
    async fn create(&self, change: &ChangeContext, new: NewApiKey) -> RegistryResult<ApiKey> {
        let mut tx = self.begin_write().await?;
        if let Some(tenant) = &new.tenant {
            // Checked (and on PostgreSQL locked) here rather than left to the foreign key:
            // a constraint violation reads differently in each engine.
            let sql = format!(
                "SELECT id FROM tenants WHERE id = $1{}",
                self.engine.lock_rows()
            );
            let exists = sqlx::query(&sql)
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .is_some();
            if !exists {
                return Err(RegistryError::TenantNotFound);
            }
        }
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, role, secret_hash, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id.clone())
        .bind(new.tenant.as_ref().map(|t| t.as_str().to_owned()))
        .bind(new.role.as_str())
        .bind(new.secret_hash.clone())
        .bind(new.description.clone())
        .bind(now.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let created = ApiKey {
            id: new.id,
            tenant: new.tenant,
            role: new.role,
            description: new.description,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
            secret_hash: new.secret_hash,
        };
        let event = NewEvent::new(
            created.tenant.as_ref(),
            "key.create",
            target(&created.id),
            None,
            Some(&created),
        );
        append_events(&mut tx, change, now, vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(created)
    }

    async fn get(&self, id: &str) -> RegistryResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        sqlx::query(&sql)
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| key(&row))
            .transpose()
    }

    async fn list(
        &self,
        tenant: Option<&TenantId>,
        after: Option<&str>,
        limit: u32,
    ) -> RegistryResult<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id > $1 AND {} ORDER BY id LIMIT $2",
            scope(tenant, 3)
        );
        let mut query = sqlx::query(&sql)
            .bind(after.unwrap_or("").to_owned())
            .bind(i64::from(limit));
        if let Some(tenant) = tenant {
            query = query.bind(tenant.as_str().to_owned());
        }
        query
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(key)
            .collect()
    }

    async fn revoke(
        &self,
        change: &ChangeContext,
        tenant: Option<&TenantId>,
        id: &str,
    ) -> RegistryResult<bool> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 AND revoked_at IS NULL AND {}{}",
            scope(tenant, 2),
            self.engine.lock_rows()
        );
        let mut query = sqlx::query(&sql).bind(id.to_owned());
        if let Some(tenant) = tenant {
            query = query.bind(tenant.as_str().to_owned());
        }
        let Some(before) = query
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .map(|row| key(&row))
            .transpose()?
        else {
            return Ok(false);
        };
        let now = Timestamp::now();
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1")
            .bind(id.to_owned())
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let after = ApiKey {
            revoked_at: Some(now),
            ..before.clone()
        };
        let event = NewEvent::new(
            before.tenant.as_ref(),
            "key.revoke",
            target(id),
            Some(&before),
            Some(&after),
        );
        append_events(&mut tx, change, now, vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn touch(&self, id: &str, at: Timestamp) -> RegistryResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_owned())
            .bind(at.unix_millis())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
