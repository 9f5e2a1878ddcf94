use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use signpost_domain::{Mac, TenantId};
use sqlx::AnyConnection;

use super::rows::{self, DEVICE_COLUMNS};
use super::{SqlEngine, SqlRegistry, corrupt, json_param, unavailable, values_placeholders};
use crate::registry::{
    BatchItemReason, BatchSummary, ChangeContext, Device, DeviceFilter, DeviceOp, DeviceRepo,
    DeviceRoute, DeviceSpec, RegistryError, RegistryResult, Resolution, ResolutionSource, Sighting,
    Written,
};

#[async_trait]
impl DeviceRepo for SqlRegistry {
    async fn put(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        spec: DeviceSpec,
    ) -> RegistryResult<Written<Device>> {
        let mac = spec.mac;
        let (_, mut outcomes) = self
            .apply_device_ops(change, tenant, vec![DeviceOp::Upsert(spec)])
            .await
            .map_err(|e| match e {
                // A batch of one reports its single refusal as the plain error.
                RegistryError::BatchRefused(items) => {
                    match items.into_iter().next().map(|i| i.reason) {
                        Some(BatchItemReason::ProfileNotFound(profile)) => {
                            RegistryError::ProfileNotFound(profile)
                        }
                        _ => RegistryError::MacOwnedByOtherTenant(mac),
                    }
                }
                other => other,
            })?;
        outcomes
            .pop()
            .flatten()
            .ok_or_else(|| RegistryError::Corrupt("device upsert left no outcome".into()))
    }

    async fn get(&self, tenant: &TenantId, mac: Mac) -> RegistryResult<Option<Device>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND mac = $2");
        sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(mac.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| rows::device(&row))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        filter: &DeviceFilter,
        after: Option<Mac>,
        limit: u32,
    ) -> RegistryResult<Vec<Device>> {
        let mut sql =
            format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE tenant_id = $1 AND mac > $2");
        let mut texts: Vec<String> = Vec::new();
        let mut next = 3;
        let mut condition = |sql: &mut String, clause: &str| {
            sql.push_str(" AND ");
            sql.push_str(&clause.replace("$?", &format!("${next}")));
            next += 1;
        };
        if let Some(profile) = &filter.profile {
            condition(&mut sql, "profile_id = $?");
            texts.push(profile.to_string());
        }
        if let Some(phone_type) = &filter.phone_type {
            condition(&mut sql, "phone_type = $?");
            texts.push(phone_type.to_string());
        }
        if let Some(prefix) = &filter.label_prefix {
            // substr/length compare exactly in both engines (LIKE folds case in SQLite only).
            condition(&mut sql, "substr(label, 1, length($?)) = $?");
            texts.push(prefix.clone());
        }
        let seen_since = filter.seen_since.map(|t| t.unix_millis());
        if seen_since.is_some() {
            condition(&mut sql, "last_seen_at >= $?");
        }
        if filter.never_seen {
            sql.push_str(" AND last_seen_at IS NULL");
        }
        sql.push_str(&format!(" ORDER BY mac LIMIT ${next}"));

        let after = after.map(|m| m.to_string()).unwrap_or_default();
        let mut query = sqlx::query(&sql).bind(tenant.as_str()).bind(after);
        for text in texts {
            query = query.bind(text);
        }
        if let Some(since) = seen_since {
            query = query.bind(since);
        }
        query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(rows::device)
            .collect()
    }

    async fn delete(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        mac: Mac,
    ) -> RegistryResult<bool> {
        let (summary, _) = self
            .apply_device_ops(change, tenant, vec![DeviceOp::Delete(mac)])
            .await?;
        Ok(summary.deleted == 1)
    }

    async fn apply_batch(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        ops: Vec<DeviceOp>,
    ) -> RegistryResult<BatchSummary> {
        Ok(self.apply_device_ops(change, tenant, ops).await?.0)
    }

    async fn resolve(&self, mac: Mac) -> RegistryResult<Option<Resolution>> {
        let row = sqlx::query(
            "SELECT d.tenant_id, d.profile_id, d.setting_server AS device_url, \
                    p.setting_server AS profile_url, p.extra_settings, \
                    t.default_setting_server AS tenant_url \
             FROM devices d \
             JOIN tenants t ON t.id = d.tenant_id \
             LEFT JOIN profiles p ON p.tenant_id = d.tenant_id AND p.id = d.profile_id \
             WHERE d.mac = $1 AND t.status = 'active'",
        )
        .bind(mac.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let candidates = [
            ("device_url", ResolutionSource::Device),
            ("profile_url", ResolutionSource::Profile),
            ("tenant_url", ResolutionSource::Tenant),
        ];
        let mut chosen = None;
        for (column, source) in candidates {
            if let Some(url) = rows::opt_parsed(&row, column)? {
                chosen = Some((url, source));
                break;
            }
        }
        let Some((setting_server, source)) = chosen else {
            return Ok(None);
        };
        let extra_settings = match rows::opt_text(&row, "extra_settings")? {
            Some(json) => {
                serde_json::from_str(&json).map_err(|_| corrupt("extra_settings", &json))?
            }
            None => Vec::new(),
        };
        Ok(Some(Resolution {
            tenant: rows::parsed(&row, "tenant_id")?,
            profile: rows::opt_parsed(&row, "profile_id")?,
            setting_server,
            source,
            extra_settings,
        }))
    }

    async fn route(&self, mac: Mac) -> RegistryResult<Option<DeviceRoute>> {
        let row =
            sqlx::query("SELECT tenant_id, profile_id, setting_server FROM devices WHERE mac = $1")
                .bind(mac.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(DeviceRoute {
            tenant: rows::parsed(&row, "tenant_id")?,
            profile: rows::opt_parsed(&row, "profile_id")?,
            setting_server: rows::opt_parsed(&row, "setting_server")?,
        }))
    }

    async fn routes(&self, macs: &[Mac]) -> RegistryResult<Vec<(Mac, DeviceRoute)>> {
        if macs.is_empty() {
            return Ok(Vec::new());
        }
        // The MACs go as one JSON array: one fixed statement whatever their number. On
        // PostgreSQL `= ANY(ARRAY(...))` probes the primary key once per MAC (as for files).
        let sql = match self.engine {
            SqlEngine::Postgres => {
                "SELECT mac, tenant_id, profile_id, setting_server FROM devices WHERE mac = \
                 ANY(ARRAY(SELECT json_array_elements_text($1::json)))"
            }
            // Led by the wanted MACs, as for files (see `FileRepo::get_many`).
            SqlEngine::Sqlite => {
                "SELECT mac, tenant_id, profile_id, setting_server \
                 FROM (SELECT value AS wanted FROM json_each($1)) AS w \
                 CROSS JOIN devices ON devices.mac = w.wanted"
            }
        };
        // Each MAC once: the join would return a row per mention.
        let mut macs = macs.to_vec();
        macs.sort_unstable();
        macs.dedup();
        let wanted: Vec<String> = macs.iter().map(Mac::to_string).collect();
        let wanted = json_param("MACs", &wanted)?;
        sqlx::query(sql)
            .bind(wanted)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(|row| {
                Ok((
                    rows::parsed(row, "mac")?,
                    DeviceRoute {
                        tenant: rows::parsed(row, "tenant_id")?,
                        profile: rows::opt_parsed(row, "profile_id")?,
                        setting_server: rows::opt_parsed(row, "setting_server")?,
                    },
                ))
            })
            .collect()
    }

    async fn record_sightings(&self, sightings: &[Sighting]) -> RegistryResult<u64> {
        // The latest sighting per MAC: one statement must not update a row twice.
        let mut latest: HashMap<Mac, &Sighting> = HashMap::with_capacity(sightings.len());
        for sighting in sightings {
            latest
                .entry(sighting.mac)
                .and_modify(|s| {
                    if sighting.at >= s.at {
                        *s = sighting;
                    }
                })
                .or_insert(sighting);
        }
        let mut latest: Vec<&Sighting> = latest.into_values().collect();
        // In MAC order, as the batch upsert writes: writers that visit rows in one order
        // (replicas flushing, a batch) do not wait on each other in a cycle.
        latest.sort_unstable_by_key(|s| s.mac);
        // One transaction for the whole flush: one commit, not one per statement, and on
        // SQLite a turn in the writers' queue like any other write.
        let mut tx = self.begin_write().await?;
        let mut updated = 0;
        match self.engine {
            SqlEngine::Postgres => {
                // Last-seen is telemetry, and a flush waiting for the WAL to reach the disk
                // held its connection for up to 0.3 s on a slow disk (several times per boot
                // storm). Without the wait a crash can lose the last moment's sightings, as
                // stopping between flushes does; the data stays consistent either way.
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                for chunk in latest.chunks(SIGHTINGS_PER_JSON_STATEMENT) {
                    updated += sightings_as_json(&mut tx, chunk).await?;
                }
            }
            SqlEngine::Sqlite => {
                for chunk in latest.chunks(SIGHTINGS_PER_VALUES_STATEMENT) {
                    updated += sightings_as_values(&mut tx, chunk).await?;
                }
            }
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(updated)
    }
}

/// PostgreSQL: the rows as one JSON parameter of one fixed statement, prepared once per
/// connection and reused (a multi-row VALUES text of thousands of placeholders was
/// planned afresh every time).
async fn sightings_as_json(conn: &mut AnyConnection, chunk: &[&Sighting]) -> RegistryResult<u64> {
    let rows: Vec<SeenRow<'_>> = chunk.iter().map(|s| SeenRow::from(*s)).collect();
    let json = json_param("sightings", &rows)?;
    Ok(sqlx::query(SIGHTINGS_POSTGRES)
        .bind(json)
        .execute(conn)
        .await
        .map_err(unavailable)?
        .rows_affected())
}

/// SQLite: a VALUES list of a fixed number of rows, so its text never changes and each
/// connection prepares it once (a text per row count was parsed afresh every time: 12.6M
/// instructions for 500 rows). A short last chunk is padded with rows whose MAC is NULL,
/// which match no device. Not JSON here: SQLite re-serialised each `json_each` element
/// for every field read from it, some 47k instructions per row.
async fn sightings_as_values(conn: &mut AnyConnection, chunk: &[&Sighting]) -> RegistryResult<u64> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH seen (mac, at, address, user_agent, firmware, phone_type) AS (VALUES {}) \
                 UPDATE devices SET last_seen_at = seen.at, last_seen_address = seen.address, \
                 last_seen_user_agent = seen.user_agent, last_seen_firmware = seen.firmware, \
                 phone_type = COALESCE(seen.phone_type, devices.phone_type) \
                 FROM seen \
                 WHERE devices.mac = seen.mac \
                 AND (devices.last_seen_at IS NULL OR devices.last_seen_at <= seen.at)",
            values_placeholders(SqlEngine::Sqlite, SIGHTINGS_PER_VALUES_STATEMENT, 6, 0)
        )
    });
    let mut query = sqlx::query(SQL.as_str());
    for s in chunk {
        query = query
            .bind(s.mac.to_string())
            .bind(s.at.unix_millis())
            .bind(s.source_address.as_str())
            .bind(s.user_agent.as_deref())
            .bind(s.firmware_version.as_ref().map(|v| v.as_str()))
            .bind(s.phone_type.as_ref().map(|t| t.as_str()));
    }
    for _ in chunk.len()..SIGHTINGS_PER_VALUES_STATEMENT {
        query = query
            .bind(None::<String>)
            .bind(0_i64)
            .bind("")
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(None::<String>);
    }
    Ok(query
        .execute(conn)
        .await
        .map_err(unavailable)?
        .rows_affected())
}

/// Sightings per PostgreSQL statement: one JSON parameter, so no placeholder limit; the
/// bound keeps one statement's JSON text (a few hundred KB) modest.
const SIGHTINGS_PER_JSON_STATEMENT: usize = 2_000;

/// Sightings per SQLite statement (six placeholders each).
const SIGHTINGS_PER_VALUES_STATEMENT: usize = 100;

// Both engines' statements update only rows whose last-seen is not newer than the sighting,
// so a late older sighting never moves it backwards, and keep the known phone type when a
// sighting names none.

/// `json_to_recordset` types `at` as bigint, so it compares with `last_seen_at` as a number.
const SIGHTINGS_POSTGRES: &str = "UPDATE devices SET last_seen_at = seen.at, \
     last_seen_address = seen.address, last_seen_user_agent = seen.user_agent, \
     last_seen_firmware = seen.firmware, \
     phone_type = COALESCE(seen.phone_type, devices.phone_type) \
     FROM json_to_recordset($1::json) AS seen(mac text, at bigint, address text, \
          user_agent text, firmware text, phone_type text) \
     WHERE devices.mac = seen.mac \
     AND (devices.last_seen_at IS NULL OR devices.last_seen_at <= seen.at)";

/// One sighting as a JSON object; the keys are the columns PostgreSQL's statement reads.
#[derive(serde::Serialize)]
struct SeenRow<'a> {
    mac: String,
    at: i64,
    address: &'a str,
    user_agent: Option<&'a str>,
    firmware: Option<&'a str>,
    phone_type: Option<&'a str>,
}

impl<'a> From<&'a Sighting> for SeenRow<'a> {
    fn from(s: &'a Sighting) -> Self {
        Self {
            mac: s.mac.to_string(),
            at: s.at.unix_millis(),
            address: &s.source_address,
            user_agent: s.user_agent.as_deref(),
            firmware: s.firmware_version.as_ref().map(|v| v.as_str()),
            phone_type: s.phone_type.as_ref().map(|t| t.as_str()),
        }
    }
}
