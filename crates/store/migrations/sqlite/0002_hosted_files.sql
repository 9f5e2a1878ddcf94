-- Hosted files are served under signed per-device tokens; bumping the epoch invalidates
-- every token of the tenant at once.
ALTER TABLE tenants ADD COLUMN file_token_epoch BIGINT NOT NULL DEFAULT 0;

-- Paths already compare in byte order here (the BINARY collation).
