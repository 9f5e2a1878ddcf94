//! The contract of the API key repository, run against SQLite and PostgreSQL.

#[macro_use]
mod common;

use std::sync::Arc;

use common::Fixture;

use signpost_domain::{Role, TenantId, Timestamp};
use signpost_store::registry::*;

contract!(
    create_and_get,
    create_for_unknown_tenant_is_refused,
    list_is_scoped_and_paged,
    revoke_is_scoped_and_once,
    touch_records_last_use,
    audit_records_keys_without_their_hash,
    tenant_delete_removes_its_keys,
);

fn ctx() -> ChangeContext {
    ChangeContext {
        actor: "admin-key".into(),
        request_id: Some("req-keys".into()),
    }
}

fn tid(s: &str) -> TenantId {
    s.parse().unwrap()
}

async fn tenant(r: &SqlRegistry, id: &str) {
    let spec = TenantSpec {
        id: tid(id),
        display_name: format!("{id} Ltd"),
        default_setting_server: None,
        status: TenantStatus::Active,
    };
    TenantRepo::put(r, &ctx(), spec).await.unwrap();
}

fn new_key(id: &str, tenant: Option<&str>, role: Role) -> NewApiKey {
    NewApiKey {
        id: id.into(),
        tenant: tenant.map(tid),
        role,
        description: Some(format!("key {id}")),
        secret_hash: format!("hash-of-{id}"),
    }
}

async fn create_and_get(r: Arc<SqlRegistry>) {
    tenant(&r, "acme").await;
    let before = Timestamp::now();
    let created = r
        .create(&ctx(), new_key("k1", Some("acme"), Role::TenantAdmin))
        .await
        .unwrap();
    assert!(created.created_at >= before);
    assert_eq!(created.last_used_at, None);
    assert_eq!(created.revoked_at, None);
    assert_eq!(KeyRepo::get(&*r, "k1").await.unwrap(), Some(created));

    let platform = r
        .create(&ctx(), new_key("p1", None, Role::PlatformAdmin))
        .await
        .unwrap();
    let read = KeyRepo::get(&*r, "p1").await.unwrap().unwrap();
    assert_eq!(read, platform);
    assert_eq!(read.tenant, None);
    assert_eq!(read.secret_hash, "hash-of-p1");
    assert_eq!(KeyRepo::get(&*r, "nosuch").await.unwrap(), None);
}

async fn create_for_unknown_tenant_is_refused(r: Arc<SqlRegistry>) {
    let refused = r
        .create(&ctx(), new_key("k1", Some("ghost"), Role::TenantReader))
        .await;
    assert!(matches!(refused, Err(RegistryError::TenantNotFound)));
    assert_eq!(KeyRepo::get(&*r, "k1").await.unwrap(), None);
}

async fn list_is_scoped_and_paged(r: Arc<SqlRegistry>) {
    tenant(&r, "acme").await;
    tenant(&r, "other").await;
    for n in [3, 1, 5, 2, 4] {
        r.create(
            &ctx(),
            new_key(&format!("a{n}"), Some("acme"), Role::TenantReader),
        )
        .await
        .unwrap();
    }
    r.create(&ctx(), new_key("o1", Some("other"), Role::TenantAdmin))
        .await
        .unwrap();
    r.create(&ctx(), new_key("p1", None, Role::PlatformAdmin))
        .await
        .unwrap();

    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    let acme = tid("acme");
    let page = KeyRepo::list(&*r, Some(&acme), None, 2).await.unwrap();
    assert_eq!(ids(page), ["a1", "a2"]);
    let page = KeyRepo::list(&*r, Some(&acme), Some("a2"), 2)
        .await
        .unwrap();
    assert_eq!(ids(page), ["a3", "a4"]);
    let page = KeyRepo::list(&*r, Some(&acme), Some("a4"), 2)
        .await
        .unwrap();
    assert_eq!(ids(page), ["a5"]);
    let page = KeyRepo::list(&*r, Some(&tid("other")), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(page), ["o1"]);
    // `None` is the platform scope, not "every tenant".
    let page = KeyRepo::list(&*r, None, None, 10).await.unwrap();
    assert_eq!(ids(page), ["p1"]);
}

async fn revoke_is_scoped_and_once(r: Arc<SqlRegistry>) {
    tenant(&r, "acme").await;
    tenant(&r, "other").await;
    r.create(&ctx(), new_key("a1", Some("acme"), Role::TenantAdmin))
        .await
        .unwrap();
    r.create(&ctx(), new_key("p1", None, Role::PlatformAdmin))
        .await
        .unwrap();

    // Another tenant's scope, or the platform scope, does not reach acme's key.
    assert!(!r.revoke(&ctx(), Some(&tid("other")), "a1").await.unwrap());
    assert!(!r.revoke(&ctx(), None, "a1").await.unwrap());
    assert!(!r.revoke(&ctx(), Some(&tid("acme")), "p1").await.unwrap());
    assert!(
        !r.revoke(&ctx(), Some(&tid("acme")), "nosuch")
            .await
            .unwrap()
    );
    assert_eq!(
        KeyRepo::get(&*r, "a1").await.unwrap().unwrap().revoked_at,
        None
    );

    assert!(r.revoke(&ctx(), Some(&tid("acme")), "a1").await.unwrap());
    let revoked = KeyRepo::get(&*r, "a1").await.unwrap().unwrap();
    assert!(revoked.is_revoked());
    assert!(!r.revoke(&ctx(), Some(&tid("acme")), "a1").await.unwrap());
    assert_eq!(KeyRepo::get(&*r, "a1").await.unwrap(), Some(revoked));

    assert!(r.revoke(&ctx(), None, "p1").await.unwrap());
    // Revoked keys stay listed, marked.
    let listed = KeyRepo::list(&*r, Some(&tid("acme")), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].is_revoked());
}

async fn touch_records_last_use(r: Arc<SqlRegistry>) {
    r.create(&ctx(), new_key("p1", None, Role::PlatformAdmin))
        .await
        .unwrap();
    let at = Timestamp::from_unix_millis(1_700_000_000_123);
    r.touch("p1", at).await.unwrap();
    let key = KeyRepo::get(&*r, "p1").await.unwrap().unwrap();
    assert_eq!(key.last_used_at, Some(at));
    // Touching an unknown key is not an error: it may have been deleted meanwhile.
    r.touch("nosuch", at).await.unwrap();
}

async fn audit_records_keys_without_their_hash(r: Arc<SqlRegistry>) {
    tenant(&r, "acme").await;
    r.create(&ctx(), new_key("a1", Some("acme"), Role::TenantAdmin))
        .await
        .unwrap();
    r.revoke(&ctx(), Some(&tid("acme")), "a1").await.unwrap();

    let filter = EventFilter {
        target: Some("key/a1".into()),
        ..EventFilter::default()
    };
    let events = EventRepo::list(&*r, &tid("acme"), &filter, None, 10)
        .await
        .unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["key.create", "key.revoke"]);
    for event in &events {
        assert_eq!(event.actor, "admin-key");
        assert_eq!(event.request_id.as_deref(), Some("req-keys"));
        assert_eq!(event.tenant, Some(tid("acme")));
        for json in [&event.before, &event.after].into_iter().flatten() {
            let text = json.to_string();
            assert!(!text.contains("hash-of-a1"), "{text}");
            assert!(!text.contains("secret"), "{text}");
            assert_eq!(json["id"], "a1");
            assert_eq!(json["role"], "tenant-admin");
        }
    }
    assert_eq!(events[0].before, None);
    assert_eq!(
        events[1].before.as_ref().unwrap()["revoked_at"],
        serde_json::Value::Null
    );
    assert!(events[1].after.as_ref().unwrap()["revoked_at"].is_i64());
}

async fn tenant_delete_removes_its_keys(r: Arc<SqlRegistry>) {
    tenant(&r, "acme").await;
    r.create(&ctx(), new_key("a1", Some("acme"), Role::TenantReader))
        .await
        .unwrap();
    assert!(
        TenantRepo::delete(&*r, &ctx(), &tid("acme"), false)
            .await
            .unwrap()
    );
    assert_eq!(KeyRepo::get(&*r, "a1").await.unwrap(), None);
}
