-- The tenant's hosted-file bytes, for the quota check: summing the files on every upload
-- made uploading N files quadratic.
ALTER TABLE tenants ADD COLUMN file_bytes BIGINT NOT NULL DEFAULT 0;

-- Files published before this column existed.
UPDATE tenants
SET file_bytes = (SELECT COALESCE(SUM(size), 0) FROM files WHERE files.tenant_id = tenants.id);

-- Kept by the database rather than by the code, so that every write to `files` counts,
-- including those of a replica still running an older release during a rolling upgrade.
CREATE TRIGGER files_count_insert AFTER INSERT ON files
BEGIN
    UPDATE tenants SET file_bytes = file_bytes + NEW.size WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER files_count_update AFTER UPDATE OF size, tenant_id ON files
BEGIN
    UPDATE tenants SET file_bytes = file_bytes - OLD.size WHERE id = OLD.tenant_id;
    UPDATE tenants SET file_bytes = file_bytes + NEW.size WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER files_count_delete AFTER DELETE ON files
BEGIN
    UPDATE tenants SET file_bytes = file_bytes - OLD.size WHERE id = OLD.tenant_id;
END;
