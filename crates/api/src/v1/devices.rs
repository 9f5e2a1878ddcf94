use bytes::Bytes;
use futures::{StreamExt, stream};
use poem::Body;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json, PlainText};
use poem_openapi::types::Example;
use poem_openapi::{ApiRequest, ApiResponse, Enum, Object, OpenApi, Tags};
use signpost_domain::{Mac, Timestamp};
use signpost_service::MAX_BATCH;
use signpost_store::registry::{Device, DeviceFilter, DeviceOp, DeviceSpec, Written};

use super::csv;
use super::tenants::{Deleted, tenant_id};
use super::views::{DeviceBody, DeviceView, RedirectView, parse_profile_id, parse_url};
use super::{Bearer, change, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::problem::ApiError;
use crate::request_log::RequestId;

#[derive(Tags)]
enum Tag {
    /// Devices: one per phone MAC. A MAC has one owner across all tenants.
    Devices,
}

pub struct DevicesApi;

#[derive(Debug, ApiResponse)]
pub enum PutDevice {
    #[oai(status = 201)]
    Created(Json<DeviceView>),
    #[oai(status = 200)]
    Replaced(Json<DeviceView>),
}

#[derive(Debug, Object)]
pub struct DevicePage {
    pub items: Vec<DeviceView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum BatchAction {
    Upsert,
    Delete,
}

/// One operation of a batch.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct BatchOperation {
    pub action: BatchAction,
    /// The MAC in any accepted spelling.
    pub mac: String,
    pub profile: Option<String>,
    pub setting_server: Option<String>,
    #[oai(validator(max_length = 200))]
    pub label: Option<String>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct BatchBody {
    /// At most 10,000 operations, applied all together or not at all.
    pub operations: Vec<BatchOperation>,
}

impl Example for BatchBody {
    fn example() -> Self {
        let op = |action, mac: &str, profile: Option<&str>| BatchOperation {
            action,
            mac: mac.into(),
            profile: profile.map(Into::into),
            setting_server: None,
            label: None,
        };
        Self {
            operations: vec![
                op(
                    BatchAction::Upsert,
                    "00:04:13:AA:BB:01",
                    Some("desk-phones"),
                ),
                op(
                    BatchAction::Upsert,
                    "00:04:13:AA:BB:02",
                    Some("desk-phones"),
                ),
                op(BatchAction::Delete, "000413AABB03", None),
            ],
        }
    }
}

#[derive(Debug, Object)]
pub struct BatchResult {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Deletes of MACs the tenant did not have.
    pub absent: u64,
}

/// A batch as JSON operations, or as CSV rows (each an upsert).
#[derive(Debug, ApiRequest)]
pub enum BatchRequest {
    Json(Json<BatchBody>),
    /// Header `mac,profile,setting_server,label`, then one device per line; empty fields are
    /// unset.
    #[oai(content_type = "text/csv")]
    Csv(PlainText<String>),
}

#[derive(Debug, ApiResponse)]
pub enum Export {
    /// `mac,profile,setting_server,label,phone_type,last_seen_at,last_seen_firmware`, one
    /// device per line, ordered by MAC.
    #[oai(status = 200, content_type = "text/csv")]
    Csv(Binary<Body>),
}

/// Devices fetched per registry query while an export streams.
const EXPORT_PAGE: u32 = 1000;

fn export_rows(devices: &[Device]) -> Bytes {
    let mut out = String::with_capacity(devices.len() * 96);
    for d in devices {
        let cells = [
            d.spec.mac.to_string(),
            d.spec
                .profile
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            d.spec
                .setting_server
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            d.spec.label.clone().unwrap_or_default(),
            d.phone_type
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            d.last_seen
                .as_ref()
                .map(|s| s.at.to_rfc3339())
                .unwrap_or_default(),
            d.last_seen
                .as_ref()
                .and_then(|s| s.firmware_version.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv::field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    Bytes::from(out)
}

/// A MAC in a path: one this API cannot parse cannot name a device.
fn path_mac(mac: &str) -> Result<Mac, ApiError> {
    mac.parse().map_err(|_| ApiError::not_found())
}

fn device_spec(
    mac: Mac,
    profile: Option<String>,
    url: Option<String>,
    label: Option<String>,
    at: &str,
) -> Result<DeviceSpec, ApiError> {
    if label
        .as_deref()
        .is_some_and(|l| l.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "invalid_label",
            &format!("{at}label"),
            "no control characters",
        ));
    }
    Ok(DeviceSpec {
        mac,
        profile: parse_profile_id(&format!("{at}profile"), profile)?,
        setting_server: parse_url(&format!("{at}setting_server"), url)?,
        label,
    })
}

#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Devices")]
impl DevicesApi {
    /// Create or replace a device
    ///
    /// The MAC may be written in any common spelling; answers use the canonical one. A MAC
    /// registered to another tenant is refused with 409 `mac_owned_by_other_tenant`.
    #[oai(
        path = "/:tenant/devices/:mac",
        method = "put",
        operation_id = "put_device"
    )]
    async fn put(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        /// e.g. `00:04:13:AA:BB:CC`, `000413aabbcc`.
        mac: Path<String>,
        body: Json<DeviceBody>,
    ) -> Result<PutDevice, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let mac: Mac = mac
            .0
            .parse()
            .map_err(|e| ApiError::invalid("invalid_mac", "mac", e))?;
        let body = body.0;
        let spec = device_spec(mac, body.profile, body.setting_server, body.label, "")?;
        let written = state
            .devices
            .put(&auth.0, &change(&auth.0, &request_id), &tenant, spec)
            .await?;
        Ok(match written {
            Written::Created(d) => PutDevice::Created(Json(d.into())),
            Written::Updated(d) | Written::Unchanged(d) => PutDevice::Replaced(Json(d.into())),
        })
    }

    /// Get a device
    ///
    /// Includes what the phone reported the last time it booted. Another tenant's MAC
    /// answers 404.
    #[oai(
        path = "/:tenant/devices/:mac",
        method = "get",
        operation_id = "get_device"
    )]
    async fn get(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        mac: Path<String>,
    ) -> Result<Json<DeviceView>, ApiError> {
        let (tenant, mac) = (tenant_id(&tenant)?, path_mac(&mac)?);
        Ok(Json(state.devices.get(&auth.0, &tenant, mac).await?.into()))
    }

    /// What a booting phone would be told
    ///
    /// The effective setting server and where it came from: the device, its profile, or the
    /// tenant's default.
    #[oai(
        path = "/:tenant/devices/:mac/redirect",
        method = "get",
        operation_id = "get_device_redirect"
    )]
    async fn redirect(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        mac: Path<String>,
    ) -> Result<Json<RedirectView>, ApiError> {
        let (tenant, mac) = (tenant_id(&tenant)?, path_mac(&mac)?);
        let resolution = state.devices.redirect(&auth.0, &tenant, mac).await?;
        Ok(Json(RedirectView::new(mac.to_string(), resolution)))
    }

    /// List devices
    ///
    /// Ordered by MAC, with optional filters.
    #[oai(
        path = "/:tenant/devices",
        method = "get",
        operation_id = "list_devices"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
        /// Only devices of this profile.
        profile: Query<Option<String>>,
        /// Only devices that reported this phone type, e.g. `snomD785`.
        phone_type: Query<Option<String>>,
        /// Only devices whose label starts with this text (case-sensitive).
        label_prefix: Query<Option<String>>,
        /// Only devices seen at or after this time (milliseconds since the Unix epoch).
        seen_since: Query<Option<i64>>,
        /// Only devices never seen.
        never_seen: Query<Option<bool>>,
    ) -> Result<Json<DevicePage>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?
            .map(|c| {
                c.parse::<Mac>().map_err(|_| {
                    ApiError::invalid("invalid_cursor", "cursor", "not a cursor this API gave out")
                })
            })
            .transpose()?;
        let filter = DeviceFilter {
            profile: parse_profile_id("profile", profile.0)?,
            phone_type: phone_type
                .0
                .map(|t| {
                    t.parse()
                        .map_err(|e| ApiError::invalid("invalid_phone_type", "phone_type", e))
                })
                .transpose()?,
            label_prefix: label_prefix.0,
            seen_since: seen_since.0.map(Timestamp::from_unix_millis),
            never_seen: never_seen.0.unwrap_or(false),
        };
        let items = state
            .devices
            .list(&auth.0, &tenant, &filter, after, limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |d| d.spec.mac.to_string());
        Ok(Json(DevicePage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Export the tenant's devices as CSV
    ///
    /// Streamed page by page, so a large fleet is never held in memory. The first four
    /// columns are what `POST …/devices/batch` accepts as `text/csv`.
    #[oai(
        path = "/:tenant/devices/export",
        method = "get",
        operation_id = "export_devices"
    )]
    async fn export(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
    ) -> Result<Export, ApiError> {
        let tenant = tenant_id(&tenant)?;
        // Ask once up front, so a caller without access gets an error rather than a cut stream.
        state
            .devices
            .list(&auth.0, &tenant, &DeviceFilter::default(), None, 1)
            .await?;
        let (devices, ctx) = (state.devices.clone(), auth.0);
        let pages = stream::unfold(Some(None::<Mac>), move |cursor| {
            let (devices, ctx, tenant) = (devices.clone(), ctx.clone(), tenant.clone());
            async move {
                let after = cursor?;
                match devices
                    .list(&ctx, &tenant, &DeviceFilter::default(), after, EXPORT_PAGE)
                    .await
                {
                    Ok(page) => {
                        let next = (page.len() == EXPORT_PAGE as usize)
                            .then(|| page.last().map(|d| d.spec.mac));
                        Some((Ok::<_, std::io::Error>(export_rows(&page)), next))
                    }
                    Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            }
        });
        let header = Bytes::from_static(
            b"mac,profile,setting_server,label,phone_type,last_seen_at,last_seen_firmware\n",
        );
        let body = stream::once(async { Ok(header) }).chain(pages);
        Ok(Export::Csv(Binary(Body::from_bytes_stream(body))))
    }

    /// Delete a device
    ///
    /// The phone is told nothing at its next boot; the MAC is free to register again.
    #[oai(
        path = "/:tenant/devices/:mac",
        method = "delete",
        operation_id = "delete_device"
    )]
    async fn delete(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        mac: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let (tenant, mac) = (tenant_id(&tenant)?, path_mac(&mac)?);
        state
            .devices
            .delete(&auth.0, &change(&auth.0, &request_id), &tenant, mac)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// Apply many upserts and deletes at once
    ///
    /// Up to 10,000 operations in one transaction: all of them apply, or (409 `batch_refused`,
    /// with one entry per failed item) none.
    #[oai(
        path = "/:tenant/devices/batch",
        method = "post",
        operation_id = "batch_devices"
    )]
    async fn batch(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        body: BatchRequest,
    ) -> Result<Json<BatchResult>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let operations = match body {
            BatchRequest::Json(body) => body.0.operations,
            BatchRequest::Csv(text) => csv::parse_batch(&text.0)?
                .into_iter()
                .map(|row| BatchOperation {
                    action: BatchAction::Upsert,
                    mac: row.mac,
                    profile: row.profile,
                    setting_server: row.setting_server,
                    label: row.label,
                })
                .collect(),
        };
        if operations.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "batch_too_large",
                "operations",
                format!("at most {MAX_BATCH} operations"),
            ));
        }
        let ops = operations
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                let at = format!("operations[{i}].");
                let mac: Mac = op
                    .mac
                    .parse()
                    .map_err(|e| ApiError::invalid("invalid_mac", &format!("{at}mac"), e))?;
                Ok(match op.action {
                    BatchAction::Delete => DeviceOp::Delete(mac),
                    BatchAction::Upsert => DeviceOp::Upsert(device_spec(
                        mac,
                        op.profile,
                        op.setting_server,
                        op.label,
                        &at,
                    )?),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let summary = state
            .devices
            .apply_batch(&auth.0, &change(&auth.0, &request_id), &tenant, ops)
            .await?;
        Ok(Json(BatchResult {
            created: summary.created,
            updated: summary.updated,
            unchanged: summary.unchanged,
            deleted: summary.deleted,
            absent: summary.absent,
        }))
    }
}
