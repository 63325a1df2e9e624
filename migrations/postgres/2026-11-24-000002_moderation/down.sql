DROP INDEX comments_email_status_idx;
DROP INDEX comments_post_created_idx;
DROP INDEX comments_created_idx;
DROP TABLE training_examples;
DROP TABLE comment_events;
DROP TABLE admin_tokens;
