-- ipalloc-gateway fleet mode, schema version 3: the allocation inventory
-- shared by every replica (issue 12, ListAllocations): one row per
-- allocation made through the fleet, with the state it last showed, kept
-- until some time after it was released (ipalloc_inventory rows are purged
-- by the gateway once released long enough). Order: (created_ms, account,
-- id), byte-wise (COLLATE "C", as the single-node backends compare). Times
-- are the gateway's clock as the caller gave them. No bound on the row
-- count here (the single-node backends keep at most 100,000 entries).

CREATE TABLE ipalloc_inventory (
    account     text COLLATE "C" NOT NULL, -- the provider account's configured name
    id          text COLLATE "C" NOT NULL, -- the allocation id (eipId, instance id)
    created_ms  bigint NOT NULL,           -- when the gateway recorded it, ms since the epoch
    kind        text   NOT NULL,           -- 'aliyun' or 'zenlayer'
    key         text   NOT NULL,           -- the idempotency key it was allocated under
    caller      text,                      -- the configured caller that allocated it
    tags        jsonb  NOT NULL,           -- [{"key": ..., "value": ...}, ...]
    allocation  bytea  NOT NULL,           -- its last state: versioned JSON (inventory::encode)
    state_ns    bigint NOT NULL,           -- when that state was read, ns since the epoch
    released_ns bigint,                    -- when first seen released, ns since the epoch
    PRIMARY KEY (account, id)
);
CREATE UNIQUE INDEX ipalloc_inventory_order ON ipalloc_inventory (created_ms, account, id);
CREATE INDEX ipalloc_inventory_released ON ipalloc_inventory (released_ns)
    WHERE released_ns IS NOT NULL;
