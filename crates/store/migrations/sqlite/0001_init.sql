-- Skybridge schema, SQLite flavour. Ids are UUID text, times are microseconds since the Unix epoch, JSON is text,
-- so the same SQL runs on both backends.

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('partner', 'customer')),
    partner_id TEXT REFERENCES accounts(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    country TEXT NOT NULL,
    province TEXT NOT NULL,
    address TEXT NOT NULL,
    address2 TEXT,
    city TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    default_language TEXT NOT NULL,
    business_type TEXT,
    sap_customer_number TEXT,
    cloud_location TEXT NOT NULL,
    pbx_type TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'deactivated', 'deleted')),
    delegated_authentication BOOLEAN NOT NULL DEFAULT FALSE,
    allow_guest_access BOOLEAN NOT NULL DEFAULT FALSE,
    bandwidth_optimization BOOLEAN NOT NULL DEFAULT FALSE,
    chat_allow_edit_delete BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    modified_by TEXT NOT NULL
);
CREATE INDEX accounts_by_partner ON accounts (partner_id, status, name_key, id);

CREATE TABLE support_contacts (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    position BIGINT NOT NULL,
    user_id TEXT,
    email TEXT,
    PRIMARY KEY (account_id, position)
);

CREATE TABLE roles (
    id TEXT PRIMARY KEY NOT NULL,
    partner_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    description TEXT,
    base TEXT NOT NULL CHECK (base IN ('partner', 'account_admin')),
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (partner_id, name_key)
);

CREATE TABLE role_accounts (
    role_id TEXT NOT NULL REFERENCES roles(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    assigned_at BIGINT NOT NULL,
    PRIMARY KEY (role_id, account_id)
);
CREATE INDEX role_accounts_by_account ON role_accounts (account_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    first_name TEXT,
    last_name TEXT,
    display_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    login_id TEXT,
    mobile TEXT,
    extension TEXT,
    role TEXT NOT NULL,
    registered BOOLEAN NOT NULL DEFAULT FALSE,
    source TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    restricted_manager BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    modified_by TEXT NOT NULL,
    UNIQUE (account_id, email_key)
);
CREATE INDEX users_by_name ON users (account_id, name_key, id);
CREATE INDEX users_by_email ON users (email_key);

CREATE TABLE manager_accounts (
    user_id TEXT NOT NULL REFERENCES users(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    assigned_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, account_id)
);
CREATE INDEX manager_accounts_by_account ON manager_accounts (account_id);

CREATE TABLE integrations (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('incomplete', 'complete')),
    status_message TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    event_type TEXT NOT NULL,
    asset TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    properties_changed TEXT NOT NULL,
    core_details TEXT NOT NULL,
    extra_details TEXT,
    tags TEXT NOT NULL
);
CREATE INDEX events_by_date ON events (account_id, occurred_at, id);
CREATE INDEX events_by_asset ON events (account_id, asset, occurred_at);
CREATE INDEX events_by_action ON events (account_id, action, occurred_at);
CREATE INDEX events_by_actor ON events (account_id, actor_id, occurred_at);

CREATE TABLE event_tags (
    event_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (event_id, tag)
);
CREATE INDEX event_tags_by_tag ON event_tags (account_id, tag);
