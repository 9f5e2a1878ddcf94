-- Hosted files are served under signed per-device tokens; bumping the epoch invalidates
-- every token of the tenant at once.
ALTER TABLE tenants ADD COLUMN file_token_epoch BIGINT NOT NULL DEFAULT 0;

-- Paths page in byte order, as SQLite's BINARY collation orders them, whatever the
-- database's default collation.
ALTER TABLE files ALTER COLUMN path TYPE TEXT COLLATE "C";
