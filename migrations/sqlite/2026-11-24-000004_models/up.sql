-- Trained models, artifact included, so every instance sharing the database can
-- load any of them.
CREATE TABLE models (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    version       TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMP NOT NULL,
    training_rows BIGINT NOT NULL,
    training_hash TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    metrics       TEXT NOT NULL,
    artifact      TEXT NOT NULL
);

-- Which model scores comments (NULL: the one built into the binary).
-- `generation` grows on every switch; instances poll it.
CREATE TABLE active_model (
    id         BIGINT PRIMARY KEY,
    version    TEXT,
    generation BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
INSERT INTO active_model (id, version, generation, changed_at) VALUES (1, NULL, 0, CURRENT_TIMESTAMP);

CREATE TABLE training_jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    parameters    TEXT NOT NULL,
    progress      TEXT NOT NULL DEFAULT '',
    model_version TEXT,
    metrics       TEXT,
    error         TEXT,
    activated     BOOLEAN NOT NULL DEFAULT FALSE,
    reason        TEXT,
    created_at    TIMESTAMP NOT NULL,
    started_at    TIMESTAMP,
    heartbeat_at  TIMESTAMP,
    finished_at   TIMESTAMP
);
CREATE INDEX training_jobs_status_idx ON training_jobs (status, id);
