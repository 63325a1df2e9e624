-- The moderation table: every accepted submission, whatever its status.
CREATE TABLE comments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id       TEXT NOT NULL,
    parent_id     BIGINT REFERENCES comments (id) ON DELETE SET NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'spam', 'trash')),
    author_name   TEXT NOT NULL,
    author_email  TEXT NOT NULL,
    author_url    TEXT,
    content       TEXT NOT NULL,
    permalink     TEXT,
    ip            TEXT,
    user_agent    TEXT,
    referrer      TEXT,
    spam_score    DOUBLE,
    model_version TEXT,
    -- JSON array of strings, kept as text so both backends store it the same way.
    reasons       TEXT NOT NULL DEFAULT '[]',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Public read: approved comments of one post, oldest first (keyset on created_at, id).
CREATE INDEX comments_post_status_created_idx ON comments (post_id, status, created_at, id);
-- Moderation queue: one status, newest or oldest first.
CREATE INDEX comments_status_created_idx ON comments (status, created_at, id);
