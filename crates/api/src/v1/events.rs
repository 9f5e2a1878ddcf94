use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use signpost_domain::Timestamp;
use signpost_store::registry::{Event, EventFilter};

use super::tenants::tenant_id;
use super::{Bearer, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::problem::ApiError;

#[derive(Tags)]
enum Tag {
    /// The audit trail: every change, who made it and in which request.
    Events,
}

pub struct EventsApi;

#[derive(Debug, Object)]
pub struct EventView {
    pub id: i64,
    /// The API key that made the change (`cli` for the command line).
    pub actor: String,
    /// e.g. `device.create`, `profile.update`, `tenant.delete`.
    pub action: String,
    /// e.g. `device/000413AABBCC`.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub at: String,
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            before: e.before,
            after: e.after,
            request_id: e.request_id,
            at: e.at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Object)]
pub struct EventPage {
    pub items: Vec<EventView>,
    pub next_cursor: Option<String>,
}

#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Events")]
impl EventsApi {
    /// List a tenant's audit events
    ///
    /// Oldest first.
    #[oai(path = "/:tenant/events", method = "get", operation_id = "list_events")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
        /// e.g. `device.delete`.
        action: Query<Option<String>>,
        /// e.g. `device/000413AABBCC`.
        target: Query<Option<String>>,
        /// Events at or after this time (milliseconds since the Unix epoch).
        since: Query<Option<i64>>,
        /// Events before this time (milliseconds since the Unix epoch).
        until: Query<Option<i64>>,
    ) -> Result<Json<EventPage>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    ApiError::invalid("invalid_cursor", "cursor", "not a cursor this API gave out")
                })
            })
            .transpose()?;
        let filter = EventFilter {
            action: action.0,
            target: target.0,
            since: since.0.map(Timestamp::from_unix_millis),
            until: until.0.map(Timestamp::from_unix_millis),
        };
        let items = state
            .events
            .list(&auth.0, &tenant, &filter, after, limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |e| e.id.to_string());
        Ok(Json(EventPage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}
