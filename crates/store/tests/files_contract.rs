//! The hosted-file catalogue and the tenant's file-token epoch, run against SQLite and
//! PostgreSQL.

#[macro_use]
mod common;

#[path = "files_contract/catalogue.rs"]
mod catalogue;
#[path = "files_contract/quota.rs"]
mod quota;
#[path = "files_contract/tenants.rs"]
mod tenants;

use common::Fixture;
use sha2::{Digest, Sha256};
use signpost_domain::TenantId;
use signpost_store::registry::*;

use catalogue::{
    file_events_skip_identical_republish, get_many_finds_the_tenants_files_among_the_paths,
    publish_get_and_list_by_literal_prefix, replace_keeps_created_at_and_hands_back_old_blob,
    unreferenced_names_blobs_no_row_holds,
};
use quota::{
    concurrent_publishes_never_exceed_quota, quota_refuses_and_counts_replacements_once,
    usage_follows_publishes_replacements_and_deletes,
};
use tenants::{file_token_epoch_rotates_and_survives_tenant_put, tenant_delete_removes_its_files};

contract!(
    publish_get_and_list_by_literal_prefix,
    replace_keeps_created_at_and_hands_back_old_blob,
    quota_refuses_and_counts_replacements_once,
    unreferenced_names_blobs_no_row_holds,
    file_events_skip_identical_republish,
    file_token_epoch_rotates_and_survives_tenant_put,
    tenant_delete_removes_its_files,
    concurrent_publishes_never_exceed_quota,
    usage_follows_publishes_replacements_and_deletes,
    get_many_finds_the_tenants_files_among_the_paths,
);

fn ctx() -> ChangeContext {
    ChangeContext {
        actor: "k1".into(),
        request_id: Some("req-1".into()),
    }
}

fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

async fn tenant(r: &SqlRegistry, id: &str) -> TenantId {
    let spec = TenantSpec {
        id: tid(id),
        display_name: format!("{id} Ltd"),
        default_setting_server: None,
        status: TenantStatus::Active,
    };
    TenantRepo::put(r, &ctx(), spec).await.unwrap();
    tid(id)
}

fn file(path: &str, body: &str, key: &str) -> FileSpec {
    FileSpec {
        path: path.into(),
        size: body.len() as u64,
        sha256: Sha256::digest(body.as_bytes()).into(),
        content_type: "text/plain".into(),
        blob_key: key.into(),
        template: false,
    }
}

fn sized(path: &str, size: usize, key: &str) -> FileSpec {
    file(path, &"x".repeat(size), key)
}

async fn publish(r: &SqlRegistry, t: &TenantId, spec: FileSpec) -> Published {
    r.publish(&ctx(), t, spec, None).await.unwrap()
}

async fn paths(r: &SqlRegistry, t: &TenantId, prefix: &str, after: Option<&str>) -> Vec<String> {
    let found = FileRepo::list(r, t, prefix, after, 100).await.unwrap();
    found.into_iter().map(|f| f.path).collect()
}
