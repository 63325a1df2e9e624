-- pgbench: one durable INSERT of a comment row (the shape replyguard stores)
-- per transaction: the ceiling a submission could reach on this database.
\set n random(1, 2000000000)
INSERT INTO comments (post_id, status, author_name, author_email, content, ip, user_agent,
    spam_score, model_version, reasons, created_at, updated_at, content_fingerprint)
VALUES ('pgbench-post', 'pending', 'Reader ' || :n, 'reader-' || :n || '@bench.example',
    'An ordinary comment, number ' || :n || ', about the article; pgbench.', '10.0.0.1',
    'pgbench', 0.1, 'spam_nb-v1', '["bayes:0.10","first_comment"]', now(), now(),
    md5(:n::text));
