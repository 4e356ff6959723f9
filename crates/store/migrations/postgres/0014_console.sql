-- The console's per-admin preferences (e.g. the Users list's columns), as JSON by key.
CREATE TABLE console_preferences (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Notifications of one user (the console's bell): what a job or bulk action they started came to.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_by_user ON notifications (user_id, created_at);

-- The Users list's filters and search read only this index (in name order) to find a page's ids, so a search
-- that matches few of an account's 100,000 users scans index entries, not table rows.
CREATE INDEX users_search ON users (account_id, name_key, id)
    INCLUDE (active, role, registered, source, email_key, extension, first_name, last_name);
-- Admins are few among many users: the Admins filter walks only them, in name order.
CREATE INDEX users_admins ON users (account_id, name_key, id) WHERE role <> 'user';
-- The PBX Users and MiCloud Connected filters: one source, in name order.
CREATE INDEX users_by_source ON users (account_id, source, name_key, id);
