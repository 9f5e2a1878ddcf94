//! Hosted files' catalogue. Every write locks the tenant's row first (on SQLite the write
//! transaction already holds the database's only write lock), so the quota check, the
//! switch to a new blob and deletes of one tenant's files are serialised. The quota reads
//! the running total of the tenant's file bytes (`tenants.file_bytes`), which triggers on
//! `files` keep (migration 0003).

use std::collections::HashSet;

use async_trait::async_trait;
use signpost_domain::{TenantId, Timestamp};
use sqlx::AnyConnection;

use super::rows::{self, FILE_COLUMNS};
use super::{
    NewEvent, ROWS_PER_STATEMENT, SqlEngine, SqlRegistry, append_events, corrupt, json_param,
    list_placeholders, unavailable,
};
use crate::registry::{
    ChangeContext, FileRecord, FileRepo, FileSpec, Published, RegistryError, RegistryResult,
};

fn target(path: &str) -> String {
    format!("file/{path}")
}

/// Bytes as the BIGINT columns hold them.
fn stored_size(size: u64) -> RegistryResult<i64> {
    i64::try_from(size)
        .map_err(|_| RegistryError::Corrupt(format!("file size {size} is out of range")))
}

/// The file as it is now; the caller holds the tenant's lock.
async fn file_row(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    path: &str,
) -> RegistryResult<Option<FileRecord>> {
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND path = $2");
    sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(path)
        .fetch_optional(conn)
        .await
        .map_err(unavailable)?
        .map(|row| rows::file(&row))
        .transpose()
}

/// Bytes the tenant's files take, as the running total on its row has them (kept by
/// triggers); 0 for an unknown tenant.
async fn file_bytes<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    tenant: &TenantId,
) -> RegistryResult<u64> {
    let total: Option<i64> = sqlx::query_scalar("SELECT file_bytes FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(conn)
        .await
        .map_err(unavailable)?;
    let total = total.unwrap_or(0);
    u64::try_from(total).map_err(|_| corrupt("file_bytes", &total.to_string()))
}

/// Refuses a file of `needed` bytes that would take the tenant past `quota`; the caller holds
/// the tenant's lock. The file it replaces (`before`) no longer counts: a replacement needs
/// only its own size.
async fn check_quota(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    before: Option<&FileRecord>,
    needed: u64,
    quota: u64,
) -> RegistryResult<()> {
    let total = file_bytes(conn, tenant).await?;
    let replaced = before.map_or(0, |b| b.size);
    let used = total
        .checked_sub(replaced)
        .ok_or_else(|| corrupt("file_bytes", &total.to_string()))?;
    if used.saturating_add(needed) > quota {
        return Err(RegistryError::QuotaExceeded {
            used,
            quota,
            needed,
        });
    }
    Ok(())
}

#[async_trait]
impl FileRepo for SqlRegistry {
    async fn publish(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: FileSpec,
        quota_bytes: Option<u64>,
    ) -> RegistryResult<Published> {
        let size = stored_size(spec.size)?;
        let mut tx = self.begin_write().await?;
        if self.tenant_for_update(&mut tx, tenant).await?.is_none() {
            return Err(RegistryError::TenantNotFound);
        }
        let before = file_row(&mut tx, tenant, &spec.path).await?;
        if let Some(quota) = quota_bytes {
            check_quota(&mut tx, tenant, before.as_ref(), spec.size, quota).await?;
        }
        let now = Timestamp::now();
        let sql = if before.is_some() {
            "UPDATE files SET size = $3, sha256 = $4, content_type = $5, blob_key = $6, \
             template = $7, updated_at = $8 WHERE tenant_id = $1 AND path = $2"
        } else {
            "INSERT INTO files (tenant_id, path, size, sha256, content_type, blob_key, template, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"
        };
        sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(spec.path.as_str())
            .bind(size)
            .bind(hex::encode(spec.sha256))
            .bind(spec.content_type.as_str())
            .bind(spec.blob_key.as_str())
            .bind(spec.template)
            .bind(now.unix_millis())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let file = FileRecord {
            tenant: tenant.clone(),
            path: spec.path,
            size: spec.size,
            sha256: spec.sha256,
            content_type: spec.content_type,
            blob_key: spec.blob_key,
            template: spec.template,
            created_at: before.as_ref().map_or(now, |b| b.created_at),
            updated_at: now,
        };
        // Republishing the same content only moves it to a new blob: not a change to audit.
        let changed = before.as_ref().is_none_or(|b| {
            (&b.sha256, &b.content_type, b.template)
                != (&file.sha256, &file.content_type, file.template)
        });
        if changed {
            let event = NewEvent::new(
                Some(tenant),
                "file.put",
                target(&file.path),
                before.as_ref(),
                Some(&file),
            );
            append_events(&mut tx, change, now, vec![event]).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        let created = before.is_none();
        let replaced_blob = before
            .map(|b| b.blob_key)
            .filter(|key| *key != file.blob_key);
        Ok(Published {
            file,
            replaced_blob,
            created,
        })
    }

    async fn get(&self, tenant: &TenantId, path: &str) -> RegistryResult<Option<FileRecord>> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        file_row(&mut conn, tenant, path).await
    }

    async fn get_many(&self, tenant: &TenantId, paths: &[&str]) -> RegistryResult<Vec<FileRecord>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        // The paths go as one JSON array: one fixed statement whatever their number.
        let sql = match self.engine {
            // `= ANY(ARRAY(...))` probes the primary key once per path; `IN (SELECT ...)` was
            // planned as a scan of all the tenant's files. `path` compares bytewise
            // (COLLATE "C"); the array's elements are made to as well.
            SqlEngine::Postgres => format!(
                "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 AND path = ANY(ARRAY(\
                 SELECT p COLLATE \"C\" FROM json_array_elements_text($2::json) AS wanted(p)))"
            ),
            // A join led by the wanted paths probes the primary key once per path. `IN
            // (SELECT ...)` first copied the list into a temporary b-tree, each time (with
            // the same for devices, 7% of the server's work in a boot storm). CROSS JOIN
            // keeps that order: without statistics SQLite would rather walk all the
            // tenant's files. The subquery names the one column, as json_each has a `path`
            // of its own.
            SqlEngine::Sqlite => format!(
                "SELECT {FILE_COLUMNS} FROM (SELECT value AS wanted FROM json_each($2)) AS w \
                 CROSS JOIN files ON files.tenant_id = $1 AND files.path = w.wanted"
            ),
        };
        // Each path once: the join would return a row per mention.
        let mut paths = paths.to_vec();
        paths.sort_unstable();
        paths.dedup();
        let wanted = json_param("paths", &paths)?;
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(wanted)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::file)
            .collect()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> RegistryResult<Vec<FileRecord>> {
        // substr/length compare exactly in both engines: no LIKE wildcards, no case folding.
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = $1 \
             AND substr(path, 1, length($2)) = $2 AND path > $3 ORDER BY path LIMIT $4"
        );
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(prefix)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::file)
            .collect()
    }

    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        path: &str,
    ) -> RegistryResult<Option<FileRecord>> {
        let mut tx = self.begin_write().await?;
        if self.tenant_for_update(&mut tx, tenant).await?.is_none() {
            return Ok(None);
        }
        let Some(before) = file_row(&mut tx, tenant, path).await? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM files WHERE tenant_id = $1 AND path = $2")
            .bind(tenant.as_str())
            .bind(path)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let now = Timestamp::now();
        let event = NewEvent::new(
            Some(tenant),
            "file.delete",
            target(path),
            Some(&before),
            None,
        );
        append_events(&mut tx, change, now, vec![event]).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Some(before))
    }

    async fn usage(&self, tenant: &TenantId) -> RegistryResult<u64> {
        file_bytes(&self.pool, tenant).await
    }

    async fn unreferenced(&self, blob_keys: &[String]) -> RegistryResult<Vec<String>> {
        let mut referenced = HashSet::new();
        for chunk in blob_keys.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT blob_key FROM files WHERE blob_key IN ({})",
                list_placeholders(self.engine, chunk.len(), 0)
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            referenced.extend(query.fetch_all(&self.pool).await.map_err(unavailable)?);
        }
        Ok(blob_keys
            .iter()
            .filter(|key| !referenced.contains(*key))
            .cloned()
            .collect())
    }
}
