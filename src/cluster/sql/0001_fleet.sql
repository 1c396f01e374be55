-- ipalloc-gateway fleet mode, schema version 1: shared idempotency records
-- and the per-account rate limit. Every state change of a record is one
-- function call (one round trip); every call after the claim is conditional
-- on the fencing token the claim handed out. Times are the database's clock,
-- so replicas with skewed clocks agree.

CREATE TABLE ipalloc_records (
    account          text        NOT NULL,  -- the provider account's configured name
    key              text        NOT NULL,  -- the idempotency key
    fingerprint_hash bytea       NOT NULL,  -- SHA-256 of the canonical parameters
    fingerprint_provider text    NOT NULL,
    fingerprint_params   text[]  NOT NULL,  -- name, value, name, value, ... (no secrets)
    state            text        NOT NULL CHECK (state IN ('in_flight', 'unknown', 'completed')),
    fence            bigint      NOT NULL,  -- fencing token: +1 at every claim and takeover
    lease_owner      text,                  -- replica running the key, until lease_expires
    lease_expires    timestamptz,
    request_ids      text[]      NOT NULL DEFAULT '{}',  -- provider request ids
    response         bytea,                 -- encoded AllocateIpResponse (completed)
    created          timestamptz NOT NULL,
    last_attempt     timestamptz NOT NULL,
    completed        timestamptz,
    updated          timestamptz NOT NULL,
    expires          timestamptz NOT NULL,  -- last activity + retention
    PRIMARY KEY (account, key)
);
CREATE INDEX ipalloc_records_expires ON ipalloc_records (expires);

-- GCRA state per provider account: the theoretical arrival time.
CREATE TABLE ipalloc_rate_limits (
    account text        PRIMARY KEY,
    tat     timestamptz NOT NULL
);

-- Claims a key (AllocateIp's first step). Outcomes:
--   started    no live record: an in_flight record leased to p_owner
--   completed  replay `response`
--   mismatch   the key is recorded for other parameters (fp_* say which)
--   busy       another replica holds a live lease; wait_ms until it expires
--   taken_over an in_flight or unknown record whose lease had ended is now
--              leased to p_owner with a new fence: reconcile before sending
CREATE FUNCTION ipalloc_claim(
    p_account text, p_key text, p_hash bytea, p_provider text, p_params text[],
    p_owner text, p_lease_ms bigint, p_retention_s bigint)
RETURNS TABLE (outcome text, fence bigint, state text, fp_hash bytea,
               fp_provider text, fp_params text[], response bytea,
               created timestamptz, last_attempt timestamptz, wait_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r ipalloc_records%ROWTYPE;
    t timestamptz := clock_timestamp();
    lease interval := p_lease_ms * interval '1 millisecond';
    retention interval := p_retention_s * interval '1 second';
BEGIN
    -- A replay reads without locking.
    SELECT * INTO r FROM ipalloc_records AS x WHERE x.account = p_account AND x.key = p_key;
    IF FOUND AND r.expires > t AND r.state = 'completed' THEN
        RETURN QUERY SELECT
            CASE WHEN r.fingerprint_hash = p_hash THEN 'completed' ELSE 'mismatch' END,
            r.fence, r.state, r.fingerprint_hash, r.fingerprint_provider,
            r.fingerprint_params, r.response, r.created, r.last_attempt, 0::bigint;
        RETURN;
    END IF;
    LOOP
        SELECT * INTO r FROM ipalloc_records AS x
            WHERE x.account = p_account AND x.key = p_key FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO ipalloc_records AS x (account, key, fingerprint_hash,
                fingerprint_provider, fingerprint_params, state, fence, lease_owner,
                lease_expires, created, last_attempt, updated, expires)
            VALUES (p_account, p_key, p_hash, p_provider, p_params, 'in_flight', 1,
                p_owner, t + lease, t, t, t, t + retention)
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
                RETURN QUERY SELECT 'started'::text, 1::bigint, 'in_flight'::text, p_hash,
                    p_provider, p_params, NULL::bytea, t, t, 0::bigint;
                RETURN;
            END IF;
            -- Another replica inserted it meanwhile: lock that row.
            CONTINUE;
        END IF;
        t := clock_timestamp();
        IF r.expires <= t THEN
            -- Expired: counts as absent and is replaced.
            UPDATE ipalloc_records AS x SET fingerprint_hash = p_hash,
                fingerprint_provider = p_provider, fingerprint_params = p_params,
                state = 'in_flight', fence = r.fence + 1, lease_owner = p_owner,
                lease_expires = t + lease, request_ids = '{}', response = NULL,
                created = t, last_attempt = t, completed = NULL, updated = t,
                expires = t + retention
            WHERE x.account = p_account AND x.key = p_key;
            RETURN QUERY SELECT 'started'::text, r.fence + 1, 'in_flight'::text, p_hash,
                p_provider, p_params, NULL::bytea, t, t, 0::bigint;
            RETURN;
        END IF;
        IF r.fingerprint_hash <> p_hash THEN
            RETURN QUERY SELECT 'mismatch'::text, r.fence, r.state, r.fingerprint_hash,
                r.fingerprint_provider, r.fingerprint_params, NULL::bytea, r.created,
                r.last_attempt, 0::bigint;
            RETURN;
        END IF;
        IF r.state = 'completed' THEN
            RETURN QUERY SELECT 'completed'::text, r.fence, r.state, r.fingerprint_hash,
                r.fingerprint_provider, r.fingerprint_params, r.response, r.created,
                r.last_attempt, 0::bigint;
            RETURN;
        END IF;
        IF r.lease_owner IS NOT NULL AND r.lease_expires > t THEN
            RETURN QUERY SELECT 'busy'::text, r.fence, r.state, r.fingerprint_hash,
                r.fingerprint_provider, r.fingerprint_params, NULL::bytea, r.created,
                r.last_attempt,
                greatest(1, ceil(extract(epoch FROM r.lease_expires - t) * 1000))::bigint;
            RETURN;
        END IF;
        UPDATE ipalloc_records AS x SET fence = r.fence + 1, lease_owner = p_owner,
            lease_expires = t + lease, updated = t
        WHERE x.account = p_account AND x.key = p_key;
        RETURN QUERY SELECT 'taken_over'::text, r.fence + 1, r.state, r.fingerprint_hash,
            r.fingerprint_provider, r.fingerprint_params, NULL::bytea, r.created,
            r.last_attempt, 0::bigint;
        RETURN;
    END LOOP;
END $$;

-- Records the success of the lease holder p_fence. Outcomes: ok, fenced
-- (another replica took the key over: nothing written), conflict (already
-- completed with another response). A record that vanished (purged) is
-- written again: the allocation happened.
CREATE FUNCTION ipalloc_complete(
    p_account text, p_key text, p_fence bigint, p_hash bytea, p_provider text,
    p_params text[], p_response bytea, p_request_ids text[], p_retention_s bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r ipalloc_records%ROWTYPE;
    t timestamptz := clock_timestamp();
BEGIN
    UPDATE ipalloc_records AS x SET state = 'completed', response = p_response,
        request_ids = p_request_ids, completed = t, updated = t,
        expires = t + p_retention_s * interval '1 second',
        lease_owner = NULL, lease_expires = NULL
    WHERE x.account = p_account AND x.key = p_key AND x.fence = p_fence
        AND x.state <> 'completed';
    IF FOUND THEN
        RETURN 'ok';
    END IF;
    SELECT * INTO r FROM ipalloc_records AS x WHERE x.account = p_account AND x.key = p_key;
    IF NOT FOUND THEN
        INSERT INTO ipalloc_records AS x (account, key, fingerprint_hash,
            fingerprint_provider, fingerprint_params, state, fence, request_ids,
            response, created, last_attempt, completed, updated, expires)
        VALUES (p_account, p_key, p_hash, p_provider, p_params, 'completed', p_fence,
            p_request_ids, p_response, t, t, t, t, t + p_retention_s * interval '1 second')
        ON CONFLICT DO NOTHING;
        RETURN CASE WHEN FOUND THEN 'ok' ELSE 'fenced' END;
    END IF;
    IF r.fence = p_fence AND r.state = 'completed' THEN
        RETURN CASE WHEN r.response = p_response THEN 'ok' ELSE 'conflict' END;
    END IF;
    RETURN 'fenced';
END $$;

-- The lease holder's attempt ended without a definite answer: unknown. The
-- lease is kept (the holder reconciles next). Outcomes: ok, fenced, conflict
-- (already completed).
CREATE FUNCTION ipalloc_mark_unknown(
    p_account text, p_key text, p_fence bigint, p_hash bytea, p_provider text,
    p_params text[], p_retention_s bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r ipalloc_records%ROWTYPE;
    t timestamptz := clock_timestamp();
BEGIN
    UPDATE ipalloc_records AS x SET state = 'unknown', updated = t
    WHERE x.account = p_account AND x.key = p_key AND x.fence = p_fence
        AND x.state = 'in_flight';
    IF FOUND THEN
        RETURN 'ok';
    END IF;
    SELECT * INTO r FROM ipalloc_records AS x WHERE x.account = p_account AND x.key = p_key;
    IF NOT FOUND THEN
        INSERT INTO ipalloc_records AS x (account, key, fingerprint_hash,
            fingerprint_provider, fingerprint_params, state, fence, created,
            last_attempt, updated, expires)
        VALUES (p_account, p_key, p_hash, p_provider, p_params, 'unknown', p_fence,
            t, t, t, t + p_retention_s * interval '1 second')
        ON CONFLICT DO NOTHING;
        RETURN CASE WHEN FOUND THEN 'ok' ELSE 'fenced' END;
    END IF;
    IF r.fence = p_fence THEN
        RETURN CASE WHEN r.state = 'completed' THEN 'conflict' ELSE 'ok' END;
    END IF;
    RETURN 'fenced';
END $$;

-- The lease holder sends again (reconciliation found nothing): in_flight,
-- a new attempt time, the lease renewed. Outcomes: ok, fenced, conflict.
CREATE FUNCTION ipalloc_mark_attempt(
    p_account text, p_key text, p_fence bigint, p_owner text, p_lease_ms bigint,
    p_retention_s bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r ipalloc_records%ROWTYPE;
    t timestamptz := clock_timestamp();
BEGIN
    UPDATE ipalloc_records AS x SET state = 'in_flight', last_attempt = t, updated = t,
        expires = t + p_retention_s * interval '1 second', lease_owner = p_owner,
        lease_expires = t + p_lease_ms * interval '1 millisecond'
    WHERE x.account = p_account AND x.key = p_key AND x.fence = p_fence
        AND x.state <> 'completed';
    IF FOUND THEN
        RETURN 'ok';
    END IF;
    SELECT * INTO r FROM ipalloc_records AS x WHERE x.account = p_account AND x.key = p_key;
    IF FOUND AND r.fence = p_fence THEN
        RETURN 'conflict';
    END IF;
    RETURN 'fenced';
END $$;

-- A definite failure of the lease holder's attempt: nothing was allocated,
-- the key is freed. Outcomes: ok (also when already gone), fenced, conflict
-- (completed: an allocation was made).
CREATE FUNCTION ipalloc_release(p_account text, p_key text, p_fence bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r ipalloc_records%ROWTYPE;
BEGIN
    DELETE FROM ipalloc_records AS x
    WHERE x.account = p_account AND x.key = p_key AND x.fence = p_fence
        AND x.state <> 'completed';
    IF FOUND THEN
        RETURN 'ok';
    END IF;
    SELECT * INTO r FROM ipalloc_records AS x WHERE x.account = p_account AND x.key = p_key;
    IF NOT FOUND THEN
        RETURN 'ok';
    END IF;
    IF r.fence = p_fence THEN
        RETURN 'conflict';
    END IF;
    RETURN 'fenced';
END $$;

-- Removes up to p_limit expired records, when no other replica is purging
-- (then -1).
CREATE FUNCTION ipalloc_purge(p_limit integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('ipalloc_purge')) THEN
        RETURN -1;
    END IF;
    DELETE FROM ipalloc_records WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM ipalloc_records WHERE expires <= clock_timestamp()
        LIMIT p_limit));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Books the account's earliest GCRA slot (one per p_interval_us, up to
-- p_tolerance_us ahead of the theoretical arrival time) if it comes within
-- p_max_delay_us (negative: any). Returns whether it was booked and the
-- delay until the slot, in microseconds, from the statement's start.
CREATE FUNCTION ipalloc_book(
    p_account text, p_interval_us bigint, p_tolerance_us bigint, p_max_delay_us bigint)
RETURNS TABLE (booked boolean, delay_us bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_tat timestamptz;
    t timestamptz;
    base timestamptz;
    slot timestamptz;
    delay bigint;
BEGIN
    SELECT x.tat INTO v_tat FROM ipalloc_rate_limits AS x
        WHERE x.account = p_account FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO ipalloc_rate_limits AS x (account, tat)
            VALUES (p_account, clock_timestamp()) ON CONFLICT DO NOTHING;
        SELECT x.tat INTO v_tat FROM ipalloc_rate_limits AS x
            WHERE x.account = p_account FOR UPDATE;
    END IF;
    -- After the lock: the time this booking is made.
    t := clock_timestamp();
    base := greatest(v_tat, t);
    slot := greatest(base - p_tolerance_us * interval '1 microsecond', t);
    -- Counted from the statement's start (now()), not from after the lock
    -- wait: the caller adds it to when it asked, so a long wait for the
    -- lock is not mistaken for lateness and the slot keeps its place.
    delay := greatest(0, floor(extract(epoch FROM slot - now()) * 1000000))::bigint;
    IF p_max_delay_us >= 0 AND delay > p_max_delay_us THEN
        RETURN QUERY SELECT false, delay;
        RETURN;
    END IF;
    UPDATE ipalloc_rate_limits AS x SET tat = base + p_interval_us * interval '1 microsecond'
        WHERE x.account = p_account;
    RETURN QUERY SELECT true, delay;
END $$;
