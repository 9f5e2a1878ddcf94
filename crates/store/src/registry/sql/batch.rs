//! Device writes. A single PUT is a batch of one, so there is exactly one code path that
//! decides ownership, validates profiles, detects "nothing changed", writes and audits.

use std::collections::{BTreeSet, HashMap, HashSet};

use signpost_domain::{Mac, ProfileId, TenantId, Timestamp};
use sqlx::AnyConnection;

use super::rows::{self, DEVICE_COLUMNS};
use super::{
    NewEvent, ROWS_PER_STATEMENT, SqlEngine, SqlRegistry, append_events, json_param,
    list_placeholders, unavailable, values_placeholders,
};
use crate::registry::{
    BatchItemError, BatchItemReason, BatchSummary, ChangeContext, Device, DeviceOp, RegistryError,
    RegistryResult, Written,
};

/// The outcome of each operation, in order: the device after an upsert, `None` for a delete.
pub(crate) type Outcomes = Vec<Option<Written<Device>>>;

fn target(mac: Mac) -> String {
    format!("device/{mac}")
}

impl SqlRegistry {
    pub(crate) async fn apply_device_ops(
        &self,
        change: &ChangeContext,
        tenant: &TenantId,
        ops: Vec<DeviceOp>,
    ) -> RegistryResult<(BatchSummary, Outcomes)> {
        let mut tx = self.begin_write().await?;
        // Shared: concurrent batches of one tenant (a bulk import in parallel requests)
        // proceed together; their device rows are locked and written in MAC order, so two
        // batches naming the same MACs wait for each other rather than deadlock.
        let tenant_exists: Option<String> = sqlx::query_scalar(&format!(
            "SELECT id FROM tenants WHERE id = $1{}",
            self.engine.share_rows()
        ))
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        if tenant_exists.is_none() {
            return Err(RegistryError::TenantNotFound);
        }

        let macs: Vec<Mac> = ops.iter().map(DeviceOp::mac).collect();
        let existing = self.devices_by_mac(&mut tx, &macs).await?;
        let wanted: BTreeSet<&ProfileId> = ops
            .iter()
            .filter_map(|op| match op {
                DeviceOp::Upsert(spec) => spec.profile.as_ref(),
                DeviceOp::Delete(_) => None,
            })
            .collect();
        let profiles = existing_profiles(&mut tx, self.engine, tenant, &wanted).await?;

        let now = Timestamp::now();
        let mut plan = Plan::default();
        let mut seen = HashSet::with_capacity(ops.len());
        for (index, op) in ops.into_iter().enumerate() {
            let mac = op.mac();
            let refuse = |reason| BatchItemError { index, mac, reason };
            if !seen.insert(mac) {
                plan.errors.push(refuse(BatchItemReason::DuplicateMac));
                continue;
            }
            let before = existing.get(&mac);
            match op {
                DeviceOp::Upsert(spec) => {
                    if before.is_some_and(|d| d.tenant != *tenant) {
                        plan.errors
                            .push(refuse(BatchItemReason::MacOwnedByOtherTenant));
                        continue;
                    }
                    if let Some(profile) = spec.profile.as_ref().filter(|p| !profiles.contains(*p))
                    {
                        plan.errors
                            .push(refuse(BatchItemReason::ProfileNotFound(profile.clone())));
                        continue;
                    }
                    let written = match before {
                        Some(before) if before.spec == spec => {
                            plan.summary.unchanged += 1;
                            Written::Unchanged(before.clone())
                        }
                        Some(before) => {
                            let after = Device {
                                spec,
                                updated_at: now,
                                ..before.clone()
                            };
                            plan.summary.updated += 1;
                            plan.events.push(NewEvent::new(
                                Some(tenant),
                                "device.update",
                                target(mac),
                                Some(before),
                                Some(&after),
                            ));
                            Written::Updated(after)
                        }
                        None => {
                            let after = Device {
                                tenant: tenant.clone(),
                                spec,
                                phone_type: None,
                                last_seen: None,
                                created_at: now,
                                updated_at: now,
                            };
                            plan.summary.created += 1;
                            plan.events.push(NewEvent::new(
                                Some(tenant),
                                "device.create",
                                target(mac),
                                None,
                                Some(&after),
                            ));
                            Written::Created(after)
                        }
                    };
                    if !matches!(written, Written::Unchanged(_)) {
                        plan.upserts.push((index, written.value().clone()));
                    }
                    plan.outcomes.push(Some(written));
                }
                DeviceOp::Delete(mac) => {
                    // Another tenant's MAC is "not there" for this tenant, exactly like an
                    // unknown one: nothing about the owner leaks.
                    match before.filter(|d| d.tenant == *tenant) {
                        Some(before) => {
                            plan.deletes.push(mac);
                            plan.summary.deleted += 1;
                            plan.events.push(NewEvent::new(
                                Some(tenant),
                                "device.delete",
                                target(mac),
                                Some(before),
                                None,
                            ));
                        }
                        None => plan.summary.absent += 1,
                    }
                    plan.outcomes.push(None);
                }
            }
        }
        if !plan.errors.is_empty() {
            return Err(RegistryError::BatchRefused(plan.errors));
        }

        upsert_devices(&mut tx, self.engine, &mut plan.upserts).await?;
        delete_devices(&mut tx, self.engine, tenant, &plan.deletes).await?;
        append_events(&mut tx, change, now, plan.events).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok((plan.summary, plan.outcomes))
    }

    async fn devices_by_mac(
        &self,
        conn: &mut AnyConnection,
        macs: &[Mac],
    ) -> RegistryResult<HashMap<Mac, Device>> {
        let mut found = HashMap::with_capacity(macs.len());
        if self.engine == SqlEngine::Postgres {
            // One statement for the whole batch: the MACs travel as one comma-separated text
            // (the Any driver binds no arrays), and rows are locked in MAC order, the order
            // in which the insert below takes them too.
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE mac = ANY(string_to_array($1, ',')) \
                 ORDER BY mac FOR UPDATE"
            );
            let list = macs
                .iter()
                .map(Mac::to_string)
                .collect::<Vec<_>>()
                .join(",");
            for row in sqlx::query(&sql)
                .bind(list)
                .fetch_all(&mut *conn)
                .await
                .map_err(unavailable)?
            {
                let device = rows::device(&row)?;
                found.insert(device.spec.mac, device);
            }
            return Ok(found);
        }
        for chunk in macs.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE mac IN ({}){}",
                list_placeholders(self.engine, chunk.len(), 0),
                self.engine.lock_rows()
            );
            let mut query = sqlx::query(&sql);
            for mac in chunk {
                query = query.bind(mac.to_string());
            }
            for row in query.fetch_all(&mut *conn).await.map_err(unavailable)? {
                let device = rows::device(&row)?;
                found.insert(device.spec.mac, device);
            }
        }
        Ok(found)
    }
}

#[derive(Default)]
struct Plan {
    summary: BatchSummary,
    outcomes: Outcomes,
    errors: Vec<BatchItemError>,
    /// (index in the batch, device after the write)
    upserts: Vec<(usize, Device)>,
    deletes: Vec<Mac>,
    events: Vec<NewEvent>,
}

async fn existing_profiles(
    conn: &mut AnyConnection,
    engine: SqlEngine,
    tenant: &TenantId,
    wanted: &BTreeSet<&ProfileId>,
) -> RegistryResult<HashSet<ProfileId>> {
    let wanted: Vec<&ProfileId> = wanted.iter().copied().collect();
    let mut found = HashSet::with_capacity(wanted.len());
    for chunk in wanted.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id FROM profiles WHERE tenant_id = {} AND id IN ({})",
            engine.param(1),
            list_placeholders(engine, chunk.len(), 1)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(tenant.as_str());
        for profile in chunk {
            query = query.bind(profile.as_str());
        }
        for id in query.fetch_all(&mut *conn).await.map_err(unavailable)? {
            found.insert(id.parse().map_err(|_| super::corrupt("profile id", &id))?);
        }
    }
    Ok(found)
}

/// Writes created and updated devices. The conflict clause only updates a row the same tenant
/// owns, so a MAC that another tenant registered concurrently comes back missing from
/// RETURNING and the whole batch is refused.
async fn upsert_devices(
    conn: &mut AnyConnection,
    engine: SqlEngine,
    upserts: &mut [(usize, Device)],
) -> RegistryResult<()> {
    const COLUMNS: usize = 7;
    // Concurrent batches insert in one order (MAC order), so they wait for each other on a
    // shared MAC instead of deadlocking.
    upserts.sort_unstable_by_key(|(_, device)| device.spec.mac);
    if engine == SqlEngine::Postgres {
        return upsert_devices_json(conn, upserts).await;
    }
    for chunk in upserts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO devices (mac, tenant_id, profile_id, setting_server, label, created_at, updated_at) \
             VALUES {} \
             ON CONFLICT (mac) DO UPDATE SET profile_id = excluded.profile_id, \
             setting_server = excluded.setting_server, label = excluded.label, updated_at = excluded.updated_at \
             WHERE devices.tenant_id = excluded.tenant_id \
             RETURNING mac",
            values_placeholders(engine, chunk.len(), COLUMNS, 0)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for (_, device) in chunk {
            query = query
                .bind(device.spec.mac.to_string())
                .bind(device.tenant.as_str().to_owned())
                .bind(device.spec.profile.as_ref().map(|p| p.as_str().to_owned()))
                .bind(
                    device
                        .spec
                        .setting_server
                        .as_ref()
                        .map(|u| u.as_str().to_owned()),
                )
                .bind(device.spec.label.clone())
                .bind(device.created_at.unix_millis())
                .bind(device.updated_at.unix_millis());
        }
        let written: HashSet<String> = query
            .fetch_all(&mut *conn)
            .await
            .map_err(unavailable)?
            .into_iter()
            .collect();
        refuse_unwritten(chunk, &written)?;
    }
    Ok(())
}

/// PostgreSQL: the whole batch in one statement, its rows as one JSON parameter. Thousands
/// of placeholders per statement cost more to bind and plan than the rows cost to write.
async fn upsert_devices_json(
    conn: &mut AnyConnection,
    upserts: &[(usize, Device)],
) -> RegistryResult<()> {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        mac: String,
        tenant_id: &'a str,
        profile_id: Option<&'a str>,
        setting_server: Option<&'a str>,
        label: Option<&'a str>,
        created_at: i64,
        updated_at: i64,
    }
    if upserts.is_empty() {
        return Ok(());
    }
    let rows: Vec<Row<'_>> = upserts
        .iter()
        .map(|(_, device)| Row {
            mac: device.spec.mac.to_string(),
            tenant_id: device.tenant.as_str(),
            profile_id: device.spec.profile.as_ref().map(|p| p.as_str()),
            setting_server: device.spec.setting_server.as_ref().map(|u| u.as_str()),
            label: device.spec.label.as_deref(),
            created_at: device.created_at.unix_millis(),
            updated_at: device.updated_at.unix_millis(),
        })
        .collect();
    let json = json_param("devices", &rows)?;
    let written: HashSet<String> = sqlx::query_scalar::<_, String>(
        "INSERT INTO devices (mac, tenant_id, profile_id, setting_server, label, created_at, updated_at) \
         SELECT mac, tenant_id, profile_id, setting_server, label, created_at, updated_at \
         FROM json_to_recordset($1::json) AS d(mac text, tenant_id text, profile_id text, \
              setting_server text, label text, created_at bigint, updated_at bigint) \
         ON CONFLICT (mac) DO UPDATE SET profile_id = excluded.profile_id, \
         setting_server = excluded.setting_server, label = excluded.label, updated_at = excluded.updated_at \
         WHERE devices.tenant_id = excluded.tenant_id \
         RETURNING mac",
    )
    .bind(json)
    .fetch_all(&mut *conn)
    .await
    .map_err(unavailable)?
    .into_iter()
    .collect();
    refuse_unwritten(upserts, &written)
}

/// A MAC missing from RETURNING was registered by another tenant meanwhile.
fn refuse_unwritten(upserts: &[(usize, Device)], written: &HashSet<String>) -> RegistryResult<()> {
    if written.len() == upserts.len() {
        return Ok(());
    }
    let errors = upserts
        .iter()
        .filter(|(_, device)| !written.contains(&device.spec.mac.to_string()))
        .map(|(index, device)| BatchItemError {
            index: *index,
            mac: device.spec.mac,
            reason: BatchItemReason::MacOwnedByOtherTenant,
        })
        .collect();
    Err(RegistryError::BatchRefused(errors))
}

async fn delete_devices(
    conn: &mut AnyConnection,
    engine: SqlEngine,
    tenant: &TenantId,
    macs: &[Mac],
) -> RegistryResult<()> {
    for chunk in macs.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM devices WHERE tenant_id = {} AND mac IN ({})",
            engine.param(1),
            list_placeholders(engine, chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql).bind(tenant.as_str());
        for mac in chunk {
            query = query.bind(mac.to_string());
        }
        query.execute(&mut *conn).await.map_err(unavailable)?;
    }
    Ok(())
}
