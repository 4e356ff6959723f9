-- Staged bulk imports of users: the uploaded sheet's rows, each with the problems found in it, until the
-- admin commits them (a valid row becomes a user and leaves the stage in one transaction, so a commit that
-- is interrupted and run again never creates a user twice) or cancels. A stage expires after 24 hours.
CREATE TABLE imports (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_by TEXT NOT NULL,
    file_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- The line the next added row gets (after the sheet's last).
    next_line BIGINT NOT NULL,
    -- The commit job last started for it, if any.
    job_id TEXT,
    created INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX imports_by_account ON imports (account_id, created_at);
CREATE INDEX imports_by_expiry ON imports (expires_at);

CREATE TABLE import_rows (
    import_id TEXT NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    -- The row's number in the sheet as the admin sees it (the header is line 1).
    line BIGINT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    -- Lower-cased address when it is one: rows and users sharing it collide.
    email_key TEXT,
    -- Columns whose cell held a formula, comma-separated.
    formulas TEXT NOT NULL,
    -- JSON list of {column, code, message}.
    issues TEXT NOT NULL,
    valid BOOLEAN NOT NULL,
    PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_by_email ON import_rows (import_id, email_key);
CREATE INDEX import_rows_valid ON import_rows (import_id, valid, line);
