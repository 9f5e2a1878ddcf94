-- The tenant's hosted-file bytes, for the quota check: summing the files on every upload
-- made uploading N files quadratic.
ALTER TABLE tenants ADD COLUMN file_bytes BIGINT NOT NULL DEFAULT 0;

-- Files published before this column existed.
UPDATE tenants
SET file_bytes = (SELECT COALESCE(SUM(size), 0) FROM files WHERE files.tenant_id = tenants.id);

-- Kept by the database rather than by the code, so that every write to `files` counts,
-- including those of a replica still running an older release during a rolling upgrade.
-- Writers of files already hold the tenant's row (FOR UPDATE), so this adds no new lock.
CREATE FUNCTION files_count_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tenants SET file_bytes = file_bytes - OLD.size WHERE id = OLD.tenant_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE tenants SET file_bytes = file_bytes + NEW.size WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER files_count_bytes AFTER INSERT OR DELETE OR UPDATE OF size, tenant_id ON files
FOR EACH ROW EXECUTE FUNCTION files_count_bytes();
