-- Group commit (issue #13): the submissions an instance has waiting, in one
-- statement and so one transaction and one commit. Every lock the batch needs
-- is taken first, in one order for all (the caller sorts the union), so two
-- batches, or a batch and a single submission, cannot deadlock; then each row
-- goes through replyguard_submit in arrival order, so the rules hold between
-- rows of one batch exactly as one after another (a second comment of one
-- email in the batch sees the first: a duplicate, or flooded).
-- p_rows is a JSON array of objects, one per submission, with n (its place in
-- the batch) and replyguard_submit's arguments by name; the answer is one row
-- per submission, with its n.
CREATE FUNCTION replyguard_submit_batch(p_lock_keys BIGINT[], p_rows TEXT)
RETURNS TABLE (n BIGINT, outcome TEXT, id BIGINT, created_at TIMESTAMP, latest TIMESTAMP, known_author BOOLEAN)
LANGUAGE plpgsql
AS $$
DECLARE
    lock_key BIGINT;
    r        RECORD;
BEGIN
    FOREACH lock_key IN ARRAY p_lock_keys LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    FOR r IN
        SELECT * FROM jsonb_to_recordset(p_rows::jsonb) AS x(
            n BIGINT, post_id TEXT, parent_id BIGINT, email TEXT, ip TEXT,
            fingerprints TEXT[], flood_seconds BIGINT, status_known TEXT,
            reasons_known TEXT, status_new TEXT, reasons_new TEXT, author_name TEXT,
            author_url TEXT, content TEXT, permalink TEXT, user_agent TEXT,
            referrer TEXT, spam_score DOUBLE PRECISION, model_version TEXT,
            fingerprint TEXT)
    LOOP
        RETURN QUERY
        SELECT r.n, s.outcome, s.id, s.created_at, s.latest, s.known_author
        FROM replyguard_submit(
            '{}'::BIGINT[], r.post_id, r.parent_id, r.email, r.ip, r.fingerprints,
            r.flood_seconds, r.status_known, r.reasons_known, r.status_new,
            r.reasons_new, r.author_name, r.author_url, r.content, r.permalink,
            r.user_agent, r.referrer, r.spam_score, r.model_version, r.fingerprint) s;
    END LOOP;
END;
$$;


-- replyguard_submit, planned once per session (see below); same arguments,
-- same answers.
CREATE OR REPLACE FUNCTION replyguard_submit(
    p_lock_keys      BIGINT[],
    p_post_id        TEXT,
    p_parent_id      BIGINT,
    p_email          TEXT,
    p_ip             TEXT,
    p_fingerprints   TEXT[],
    p_flood_seconds  BIGINT,
    p_status_known   TEXT,
    p_reasons_known  TEXT,
    p_status_new     TEXT,
    p_reasons_new    TEXT,
    p_author_name    TEXT,
    p_author_url     TEXT,
    p_content        TEXT,
    p_permalink      TEXT,
    p_user_agent     TEXT,
    p_referrer       TEXT,
    p_spam_score     DOUBLE PRECISION,
    p_model_version  TEXT,
    p_fingerprint    TEXT
) RETURNS TABLE (outcome TEXT, id BIGINT, created_at TIMESTAMP, latest TIMESTAMP, known_author BOOLEAN)
LANGUAGE plpgsql
-- Plan each statement once per session and keep the plan: planning every
-- call (force_custom_plan, the first version) took 40% of the database's CPU
-- under load. A plan made while the table is small must stay right as it
-- grows (a sequential scan, or the wrong index, made calls of 100-600 ms at
-- 30,000 comments): sequential scans are off, and each statement below has
-- one index that matches all its equalities, so the planner has no other
-- sensible choice at any size.
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
    lock_key BIGINT;
    now_utc  TIMESTAMP;
    previous TIMESTAMP;
    known    BOOLEAN;
    new_id   BIGINT;
    fp       TEXT;
    parent_post   TEXT;
    parent_status TEXT;
BEGIN
    -- Sorted by the caller, so two submissions cannot deadlock.
    FOREACH lock_key IN ARRAY p_lock_keys LOOP
        PERFORM pg_advisory_xact_lock(lock_key);
    END LOOP;
    IF p_parent_id IS NOT NULL THEN
        -- By the primary key alone (a generic plan could otherwise pick an
        -- index on post_id and scan the whole post).
        SELECT c.post_id, c.status INTO parent_post, parent_status
        FROM comments c WHERE c.id = p_parent_id;
        IF parent_post IS DISTINCT FROM p_post_id OR parent_status IS DISTINCT FROM 'approved' THEN
            RETURN QUERY SELECT 'parent'::TEXT, NULL::BIGINT, NULL::TIMESTAMP, NULL::TIMESTAMP, NULL::BOOLEAN;
            RETURN;
        END IF;
    END IF;
    -- One fingerprint at a time: (post_id, content_fingerprint) both in the
    -- index condition (with "= ANY" a generic plan searched by post_id only).
    FOREACH fp IN ARRAY p_fingerprints LOOP
        IF EXISTS (
            SELECT 1 FROM comments c
            WHERE c.post_id = p_post_id
              AND c.content_fingerprint = fp
              AND c.parent_id IS NOT DISTINCT FROM p_parent_id
              AND lower(c.author_email) = lower(p_email)
        ) THEN
            RETURN QUERY SELECT 'duplicate'::TEXT, NULL::BIGINT, NULL::TIMESTAMP, NULL::TIMESTAMP, NULL::BOOLEAN;
            RETURN;
        END IF;
    END LOOP;
    now_utc := clock_timestamp() AT TIME ZONE 'UTC';
    IF p_flood_seconds > 0 THEN
        SELECT max(c.created_at) INTO previous FROM comments c WHERE c.author_email = p_email;
        IF p_ip IS NOT NULL THEN
            SELECT greatest(previous, max(c.created_at)) INTO previous
            FROM comments c WHERE c.ip = p_ip;
        END IF;
        IF previous IS NOT NULL
           AND now_utc - previous < make_interval(secs => p_flood_seconds) THEN
            RETURN QUERY SELECT 'flood'::TEXT, NULL::BIGINT, now_utc, previous, NULL::BOOLEAN;
            RETURN;
        END IF;
    END IF;
    known := EXISTS (
        SELECT 1 FROM comments c WHERE c.author_email = p_email AND c.status = 'approved'
    );
    INSERT INTO comments (
        post_id, parent_id, status, author_name, author_email, author_url, content,
        permalink, ip, user_agent, referrer, spam_score, model_version, reasons,
        created_at, updated_at, content_fingerprint
    ) VALUES (
        p_post_id, p_parent_id,
        CASE WHEN known THEN p_status_known ELSE p_status_new END,
        p_author_name, p_email, p_author_url, p_content,
        p_permalink, p_ip, p_user_agent, p_referrer, p_spam_score, p_model_version,
        CASE WHEN known THEN p_reasons_known ELSE p_reasons_new END,
        now_utc, now_utc, p_fingerprint
    ) RETURNING comments.id INTO new_id;
    RETURN QUERY SELECT 'stored'::TEXT, new_id, now_utc, NULL::TIMESTAMP, known;
END;
$$;
