//! One contract suite for the registry port, run against SQLite and PostgreSQL.

#[macro_use]
mod common;

#[path = "registry_contract/batches.rs"]
mod batches;
#[path = "registry_contract/devices.rs"]
mod devices;
#[path = "registry_contract/events.rs"]
mod events;
#[path = "registry_contract/resolution.rs"]
mod resolution;
#[path = "registry_contract/tenants.rs"]
mod tenants;

use std::sync::Arc;

use common::Fixture;

use signpost_store::registry::*;

use batches::{batch_is_all_or_nothing, large_batch_crosses_statement_chunks};
use devices::{
    concurrent_claims_of_one_mac_have_one_winner, device_lifecycle_and_isolation,
    device_list_filters_and_pages,
};
use events::events_record_every_change;
use resolution::resolution_follows_device_profile_tenant;
use tenants::{
    profile_lifecycle, tenant_delete_refuses_while_devices_remain, tenant_lifecycle,
    tenant_list_pages_by_id,
};

contract!(
    migrations_are_idempotent,
    tenant_lifecycle,
    tenant_list_pages_by_id,
    tenant_delete_refuses_while_devices_remain,
    profile_lifecycle,
    device_lifecycle_and_isolation,
    device_list_filters_and_pages,
    batch_is_all_or_nothing,
    large_batch_crosses_statement_chunks,
    resolution_follows_device_profile_tenant,
    events_record_every_change,
    concurrent_claims_of_one_mac_have_one_winner,
);

async fn migrations_are_idempotent(r: Arc<SqlRegistry>) {
    r.migrate().await.unwrap();
    r.check().await.unwrap();
}
