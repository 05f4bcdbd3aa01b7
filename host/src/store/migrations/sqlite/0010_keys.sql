-- Named API keys. A key's name is the identity of whoever holds it: an
-- approval through the API counts for that name, and a quorum counts distinct
-- names. Admin keys may list and revoke the tenant's keys. Keys made before
-- names existed were each their tenant's first key: the oldest is named
-- 'admin', any other 'admin-' and the start of its hash.

ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;

UPDATE api_keys SET admin = 1, name = CASE
    WHEN key_hash = (SELECT k.key_hash FROM api_keys k WHERE k.tenant = api_keys.tenant
                     ORDER BY k.created_at, k.key_hash LIMIT 1)
    THEN 'admin'
    ELSE 'admin-' || substr(key_hash, 1, 8)
END;

CREATE UNIQUE INDEX api_keys_by_name ON api_keys (tenant, name);
