-- How a browser session was authenticated ("pwd", "pwd otp"), for the amr claim.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- The OpenID Connect provider (registered clients, signing keys, authorization codes, grants and their
-- refresh tokens) and TOTP second factors.

CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- Owned by a Partner Account and open to the users of the partner and all its customer accounts.
    partner_wide BOOLEAN NOT NULL DEFAULT FALSE,
    name TEXT NOT NULL,
    confidential BOOLEAN NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    id_token_alg TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256')),
    -- May exchange its credential for a token of a user of its account (RFC 8693).
    delegation BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_clients_by_account ON oauth_clients (account_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL CHECK (alg IN ('RS256', 'ES256')),
    private_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Signs until retire_at; published in the JWKS until expires_at, when nothing it signed is still valid.
    retire_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    session_hash TEXT,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    -- The grant the code was redeemed for, revoked if the code is presented again.
    grant_id TEXT
);

-- One sign-in of one user to one client: the family of its refresh tokens. Revoking it ends them all and
-- the access tokens issued under it.
CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    session_hash TEXT,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX oauth_grants_by_user ON oauth_grants (user_id);
CREATE INDEX oauth_grants_by_session ON oauth_grants (session_hash);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- Set when the token was exchanged for its successor; presenting it again is reuse.
    used_at BIGINT
);
CREATE INDEX oauth_refresh_by_grant ON oauth_refresh_tokens (grant_id);

-- Access tokens revoked before they expire that belong to no grant (client credentials).
CREATE TABLE oauth_revoked (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE user_mfa (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    seed_sealed TEXT NOT NULL,
    -- NULL until the user confirms enrolment with a first code.
    enabled_at BIGINT,
    last_step BIGINT,
    recovery_hashes TEXT NOT NULL
);

-- A password accepted, the second factor pending.
CREATE TABLE mfa_challenges (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
