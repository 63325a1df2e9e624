-- Admin tokens: only a SHA-256 hash of each token is stored.
CREATE TABLE admin_tokens (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);

-- Audit trail of moderation decisions.
CREATE TABLE comment_events (
    id          BIGSERIAL PRIMARY KEY,
    comment_id  BIGINT NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX comment_events_comment_idx ON comment_events (comment_id, id);

-- Labelled examples for training. Moderation labels keep the comment's id (one
-- label per comment); imported ones have none. The text is copied so retraining
-- never depends on the comment still existing.
CREATE TABLE training_examples (
    id           BIGSERIAL PRIMARY KEY,
    comment_id   BIGINT UNIQUE REFERENCES comments (id) ON DELETE CASCADE,
    source       TEXT NOT NULL CHECK (source IN ('moderation', 'import', 'akismet')),
    label        TEXT NOT NULL CHECK (label IN ('spam', 'ham')),
    content      TEXT NOT NULL,
    author_name  TEXT,
    author_email TEXT,
    author_url   TEXT,
    -- SHA-256 of label and text, to skip re-imports of the same example.
    content_hash TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX training_examples_hash_idx ON training_examples (content_hash);

-- Admin queue without a status filter, newest or oldest first.
CREATE INDEX comments_created_idx ON comments (created_at, id);
-- Admin queue filtered by post.
CREATE INDEX comments_post_created_idx ON comments (post_id, created_at, id);
-- Known-author lookups.
CREATE INDEX comments_email_status_idx ON comments (author_email, status);
