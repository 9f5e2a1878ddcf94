use async_trait::async_trait;
use signpost_domain::{TenantId, Timestamp};

use super::rows;
use super::{SqlRegistry, corrupt, unavailable};
use crate::registry::{Event, EventFilter, EventRepo, RegistryResult};

#[async_trait]
impl EventRepo for SqlRegistry {
    async fn list(
        &self,
        tenant: &TenantId,
        filter: &EventFilter,
        after: Option<i64>,
        limit: u32,
    ) -> RegistryResult<Vec<Event>> {
        let mut sql = String::from(
            "SELECT id, tenant_id, actor, action, target, before_json, after_json, request_id, at \
             FROM events WHERE tenant_id = $1 AND id > $2",
        );
        let mut next = 3;
        let mut texts = Vec::new();
        let mut times = Vec::new();
        for (value, clause) in [(&filter.action, "action"), (&filter.target, "target")] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {clause} = ${next}"));
                next += 1;
                texts.push(value.clone());
            }
        }
        for (value, clause) in [(filter.since, "at >="), (filter.until, "at <")] {
            if let Some(value) = value {
                sql.push_str(&format!(" AND {clause} ${next}"));
                next += 1;
                times.push(value.unix_millis());
            }
        }
        sql.push_str(&format!(" ORDER BY id LIMIT ${next}"));
        let mut query = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(after.unwrap_or(0));
        for text in texts {
            query = query.bind(text);
        }
        for time in times {
            query = query.bind(time);
        }
        let found = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        found
            .iter()
            .map(|row| {
                let json = |column: &str| -> RegistryResult<Option<serde_json::Value>> {
                    rows::opt_text(row, column)?
                        .map(|text| serde_json::from_str(&text).map_err(|_| corrupt(column, &text)))
                        .transpose()
                };
                Ok(Event {
                    id: sqlx::Row::try_get(row, "id").map_err(unavailable)?,
                    tenant: rows::opt_parsed(row, "tenant_id")?,
                    actor: rows::text(row, "actor")?,
                    action: rows::text(row, "action")?,
                    target: rows::text(row, "target")?,
                    before: json("before_json")?,
                    after: json("after_json")?,
                    request_id: rows::opt_text(row, "request_id")?,
                    at: Timestamp::from_unix_millis(
                        sqlx::Row::try_get(row, "at").map_err(unavailable)?,
                    ),
                })
            })
            .collect()
    }
}
