//! The calls to Signpost's devices API: the tenant's devices, and the batches that carry a
//! change.

use std::collections::HashMap;

use hyper::Method;
use serde::Serialize;
use tf_provider::Diagnostics;

use super::{Devices, FIELDS, MAX_BATCH};
use crate::client::{Client, encode};
use crate::delta::{self, Batch, Target};
use crate::problem::{ApiError, ErrorContext, report};
use crate::resources::device::DeviceView;
use crate::util::{at, warning};

/// The tenant's devices (of `profile` when given), by canonical MAC; `None` when the tenant
/// is gone.
pub(super) async fn remote_devices(
    client: &Client,
    tenant: &str,
    profile: Option<&str>,
) -> Result<Option<HashMap<String, DeviceView>>, ApiError> {
    let mut path = format!("/v1/tenants/{tenant}/devices");
    if let Some(p) = profile {
        path.push_str("?profile=");
        path.push_str(&encode(p, false));
    }
    match client.list::<DeviceView>(&path).await {
        Ok(list) => Ok(Some(list.into_iter().map(|d| (d.mac.clone(), d)).collect())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl Devices {
    /// Sends `batch` (one call; split only beyond the API's 10,000 operations).
    pub(super) async fn send(
        &self,
        diags: &mut Diagnostics,
        tenant: &str,
        batch: &Batch,
        elements: Option<&[String]>,
        action: &str,
    ) -> Option<()> {
        if batch.is_empty() {
            return Some(());
        }
        let client = self.shared.client(diags)?;
        if batch.ops.len() > MAX_BATCH {
            warning(
                diags,
                "More devices than one batch holds",
                format!(
                    "{} operations are sent as {} batches of at most {MAX_BATCH}; each batch is all or nothing, the change as a whole is not.",
                    batch.ops.len(),
                    batch.ops.len().div_ceil(MAX_BATCH)
                ),
                at("macs"),
            );
        }
        let path = format!("/v1/tenants/{tenant}/devices/batch");
        for (n, chunk) in batch.ops.chunks(MAX_BATCH).enumerate() {
            #[derive(Serialize)]
            struct Body<'a> {
                operations: &'a [delta::Op],
            }
            let sent: Result<serde_json::Value, ApiError> = client
                .json(Method::POST, &path, &Body { operations: chunk })
                .await;
            if let Err(e) = sent {
                let first = n * MAX_BATCH;
                let part = Batch {
                    ops: chunk.to_vec(),
                    spellings: batch.spellings[first..first + chunk.len()].to_vec(),
                };
                let action = format!(
                    "{action} devices of {tenant} (batch of {} operations)",
                    chunk.len()
                );
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&action, FIELDS)
                        .with_batch(&part, elements)
                        .writing_child(),
                );
                return None;
            }
        }
        Some(())
    }
}

impl Devices {
    /// `batch` without deletes of devices that are no longer the group's (see
    /// [`delta::keep_own_deletes`]); one list call, only when there are deletes.
    pub(super) async fn own_deletes(
        &self,
        diags: &mut Diagnostics,
        tenant: &str,
        prior: &Target,
        batch: Batch,
    ) -> Option<Batch> {
        if !batch.ops.iter().any(|op| op.action == "delete") {
            return Some(batch);
        }
        let client = self.shared.client(diags)?;
        match remote_devices(&client, tenant, prior.profile.as_deref()).await {
            Ok(remote) => {
                let remote: HashMap<String, Target> = remote
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(mac, d)| {
                        let target = Target {
                            profile: d.profile,
                            setting_server: d.setting_server,
                            label: d.label,
                        };
                        (mac, target)
                    })
                    .collect();
                Some(delta::keep_own_deletes(batch, prior, &remote))
            }
            Err(e) => {
                let action = format!("read devices of {tenant}");
                report(diags, &e, &ErrorContext::new(&action, FIELDS));
                None
            }
        }
    }
}
