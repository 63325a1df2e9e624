-- What a token may do: 'admin' (everything) or 'akismet' (only the Akismet-compatible
-- endpoints, for a site's plugin that must not moderate).
ALTER TABLE admin_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'admin';
