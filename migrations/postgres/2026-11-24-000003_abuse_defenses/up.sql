-- SHA-256 of the normalized text (case-folded, whitespace collapsed), for
-- duplicate detection. Rows from before this migration have '' and never match.
ALTER TABLE comments ADD COLUMN content_fingerprint TEXT NOT NULL DEFAULT '';
CREATE INDEX comments_post_fingerprint_idx ON comments (post_id, content_fingerprint);
-- Flood control: the latest comment from an IP or an email.
CREATE INDEX comments_ip_created_idx ON comments (ip, created_at);
CREATE INDEX comments_email_created_idx ON comments (author_email, created_at);

-- Settings shared by every instance (keyword lists). `version` grows with each
-- change, so instances can poll it cheaply and rebuild their caches.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- One row that SQLite submissions write first, so that the duplicate and flood
-- checks and the insert run under the single writer lock (PostgreSQL uses
-- advisory locks instead).
CREATE TABLE submission_lock (
    id    BIGINT PRIMARY KEY,
    ticks BIGINT NOT NULL
);
INSERT INTO submission_lock (id, ticks) VALUES (1, 0);
