-- Times are BIGINT milliseconds since the Unix epoch (UTC) in both engines, so that the
-- registry's SQL text is shared between PostgreSQL and SQLite (sqlx's Any driver has no
-- timestamp type).

CREATE TABLE tenants (
    id                     TEXT PRIMARY KEY,
    display_name           TEXT NOT NULL,
    default_setting_server TEXT,
    status                 TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);

CREATE TABLE profiles (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    id             TEXT NOT NULL,
    setting_server TEXT NOT NULL,
    extra_settings TEXT NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- The MAC alone is the key: one owner per MAC across all tenants.
CREATE TABLE devices (
    mac                  TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants (id),
    profile_id           TEXT,
    setting_server       TEXT,
    label                TEXT,
    phone_type           TEXT,
    last_seen_at         BIGINT,
    last_seen_address    TEXT,
    last_seen_user_agent TEXT,
    last_seen_firmware   TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, profile_id) REFERENCES profiles (tenant_id, id)
);
CREATE INDEX devices_by_tenant ON devices (tenant_id, mac);
CREATE INDEX devices_by_profile ON devices (tenant_id, profile_id);

-- tenant_id NULL: a platform-wide key.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants (id),
    role         TEXT NOT NULL CHECK (role IN ('platform-admin', 'tenant-admin', 'tenant-reader')),
    secret_hash  TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, id);

-- The blob is written under blob_key first; this row commits last, so a file is never
-- visible half-written.
CREATE TABLE files (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    path         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    blob_key     TEXT NOT NULL UNIQUE,
    template     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, path)
);

-- Append-only audit trail. No foreign key: the record of a deleted tenant outlives it.
CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_json TEXT,
    after_json  TEXT,
    request_id  TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant_id, id);
