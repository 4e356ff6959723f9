-- Durable background jobs (bulk user actions; import commits): one row per job, claimed by one node at a time
-- under a lease, with its progress and position, so that a job a crashed node held is taken over when the lease
-- runs out and continues where it stopped. `attempts` counts claims and fences a node whose lease ran out.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_by TEXT NOT NULL,
    created_by_account TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT NOT NULL DEFAULT 0,
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    position TEXT,
    result TEXT,
    summary TEXT,
    error TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX jobs_by_account ON jobs (account_id, created_at, id);
-- Workers poll for due jobs every second: only the few unfinished ones are in this index.
CREATE INDEX jobs_due ON jobs (lease_until, id) WHERE state IN ('queued', 'running');

-- A job's input list (e.g. the selected user ids), walked in `seq` order; kept apart from the job's row, which
-- every progress update rewrites. Dropped when the job ends.
CREATE TABLE job_items (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Jobs over "all users" of an account walk them in id order, which survives deleting the users walked.
CREATE INDEX users_by_account ON users (account_id, id);
