DROP TABLE submission_lock;
DROP TABLE settings;
DROP INDEX comments_email_created_idx;
DROP INDEX comments_ip_created_idx;
DROP INDEX comments_post_fingerprint_idx;
ALTER TABLE comments DROP COLUMN content_fingerprint;
