-- ipalloc-gateway fleet mode, schema version 2: the spend ledger shared by
-- every replica (spend limits per caller and per provider account, over
-- sliding windows of an hour and a day). One row per scope a reservation
-- counts in; a reservation is checked and written by one function call (one
-- round trip), serialized per scope by transaction advisory locks, so
-- concurrent calls on any replicas cannot overshoot a limit together. Times
-- are the database's clock (plus an offset that is zero but in tests).

CREATE TABLE ipalloc_spend (
    scope   text        NOT NULL,  -- 'account:NAME' or 'caller:NAME'
    account text        NOT NULL,  -- the provider account's configured name
    key     text        NOT NULL,  -- the idempotency key
    amount  bigint      NOT NULL,  -- addresses
    at      timestamptz NOT NULL,  -- when it was reserved
    PRIMARY KEY (scope, account, key)
);
CREATE INDEX ipalloc_spend_window ON ipalloc_spend (scope, at);
CREATE INDEX ipalloc_spend_reservation ON ipalloc_spend (account, key);

-- One window of one scope at p_now: how many addresses are reserved in it
-- (the key's own reservation left out) and, when p_amount more would pass
-- p_limit, in how many ms enough of them leave the window (-1: never, the
-- request alone is over the limit; 0: it fits).
CREATE FUNCTION ipalloc_spend_window(
    p_scope text, p_account text, p_key text, p_amount bigint, p_limit bigint,
    p_span interval, p_now timestamptz, OUT used bigint, OUT retry_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    need bigint;
    freed bigint := 0;
    r record;
BEGIN
    SELECT coalesce(sum(s.amount), 0) INTO used FROM ipalloc_spend AS s
        WHERE s.scope = p_scope AND s.at > p_now - p_span
          AND NOT (s.account = p_account AND s.key = p_key);
    retry_ms := 0;
    IF used + p_amount <= p_limit THEN
        RETURN;
    END IF;
    IF p_amount > p_limit THEN
        retry_ms := -1;
        RETURN;
    END IF;
    need := used + p_amount - p_limit;
    FOR r IN SELECT s.at, s.amount FROM ipalloc_spend AS s
        WHERE s.scope = p_scope AND s.at > p_now - p_span
          AND NOT (s.account = p_account AND s.key = p_key)
        ORDER BY s.at
    LOOP
        freed := freed + r.amount;
        IF freed >= need THEN
            retry_ms := greatest(1, ceil(extract(epoch FROM r.at + p_span - p_now) * 1000))::bigint;
            RETURN;
        END IF;
    END LOOP;
    retry_ms := -1;
END $$;

-- Reserves p_amount addresses for (p_account, p_key) in every scope of
-- p_scopes (sorted), if it fits every limited window: p_hour[i] and
-- p_day[i] are the limits of p_scopes[i] (negative: none). A re-send
-- replaces the key's own rows, moved to now. Answers reserved, and for a
-- refusal the scope, window, limit, addresses used and the wait in ms (-1:
-- never fits) of the window that frees last (one that never frees first;
-- the first found on a tie). Rows older than a day of the scopes touched
-- are purged.
CREATE FUNCTION ipalloc_reserve_spend(
    p_account text, p_key text, p_scopes text[], p_hour bigint[], p_day bigint[],
    p_amount bigint, p_ahead_ms bigint)
RETURNS TABLE (reserved boolean, spend_scope text, spend_window text,
               spend_limit bigint, spend_used bigint, wait_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    i integer;
    s text;
    w record;
    u bigint;
    r bigint;
    worst_scope text;
    worst_window text;
    worst_limit bigint;
    worst_used bigint;
    worst_wait bigint := 0;
BEGIN
    -- In the order given (sorted by the caller): no two calls deadlock.
    FOREACH s IN ARRAY p_scopes LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('ipalloc_spend:' || s, 0));
    END LOOP;
    t := clock_timestamp() + p_ahead_ms * interval '1 millisecond';
    FOR i IN 1 .. coalesce(array_length(p_scopes, 1), 0) LOOP
        FOR w IN SELECT * FROM (VALUES
                ('hour', p_hour[i], interval '1 hour', 1),
                ('day', p_day[i], interval '1 day', 2)) AS v(name, lim, span, ord)
            ORDER BY ord
        LOOP
            CONTINUE WHEN w.lim IS NULL OR w.lim < 0;
            SELECT x.used, x.retry_ms INTO u, r FROM ipalloc_spend_window(
                p_scopes[i], p_account, p_key, p_amount, w.lim, w.span, t) AS x;
            IF r <> 0 AND worst_wait <> -1 AND (r = -1 OR r > worst_wait) THEN
                worst_scope := p_scopes[i];
                worst_window := w.name;
                worst_limit := w.lim;
                worst_used := u;
                worst_wait := r;
            END IF;
        END LOOP;
    END LOOP;
    IF worst_wait <> 0 THEN
        RETURN QUERY SELECT false, worst_scope, worst_window, worst_limit, worst_used,
            worst_wait;
        RETURN;
    END IF;
    DELETE FROM ipalloc_spend AS x WHERE x.account = p_account AND x.key = p_key;
    FOREACH s IN ARRAY p_scopes LOOP
        INSERT INTO ipalloc_spend (scope, account, key, amount, at)
            VALUES (s, p_account, p_key, p_amount, t);
    END LOOP;
    DELETE FROM ipalloc_spend AS x
        WHERE x.scope = ANY (p_scopes) AND x.at <= t - interval '1 day';
    RETURN QUERY SELECT true, ''::text, ''::text, 0::bigint, 0::bigint, 0::bigint;
END $$;
