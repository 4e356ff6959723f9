-- SCIM provisioning (Entra ID Sync): the per-account secret token, the SCIM view of provisioned users, and
-- groups with their members. A SCIM user is a platform user (same id); the document keeps every SCIM attribute
-- exactly as sent, the columns beside it are what uniqueness and filters need indexed.

CREATE TABLE scim_tokens (
    account_id TEXT PRIMARY KEY NOT NULL REFERENCES accounts(id),
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE scim_users (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    work_phone TEXT,
    mobile TEXT,
    document TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (account_id, user_name_key)
);
CREATE INDEX scim_users_by_created ON scim_users (account_id, created_at, user_id);
CREATE UNIQUE INDEX scim_users_by_external_id ON scim_users (account_id, external_id);
CREATE UNIQUE INDEX scim_users_by_work_phone ON scim_users (account_id, work_phone);
CREATE UNIQUE INDEX scim_users_by_mobile ON scim_users (account_id, mobile);
CREATE INDEX users_by_mobile ON users (account_id, mobile);
CREATE INDEX users_by_login_id ON users (account_id, login_id);

CREATE TABLE scim_groups (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id TEXT,
    document TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (account_id, display_name_key)
);
CREATE INDEX scim_groups_by_created ON scim_groups (account_id, created_at, id);
CREATE UNIQUE INDEX scim_groups_by_external_id ON scim_groups (account_id, external_id);

CREATE TABLE scim_group_members (
    group_id TEXT NOT NULL REFERENCES scim_groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX scim_group_members_by_user ON scim_group_members (user_id);
