-- Console accounts. The password is never stored: password_hash is a PHC string
-- ($argon2id$v=19$m=…,t=…,p=…$salt$hash) made by handoff/accounts. An account is
-- disabled, never deleted, so that the audit log keeps naming someone who existed.
CREATE TABLE operators (
    id              TEXT PRIMARY KEY       -- the login name
                    CHECK (length(id) BETWEEN 2 AND 32 AND id NOT GLOB '*[^a-z0-9._-]*'
                           AND substr(id, 1, 1) GLOB '[a-z0-9]'),
    name            TEXT NOT NULL,         -- display name
    role            TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin')),
    langs           TEXT NOT NULL DEFAULT '', -- comma list of the hotline's languages they read
    password_hash   TEXT NOT NULL CHECK (password_hash LIKE '$%'),
    password_set_at TIMESTAMP NOT NULL,
    disabled_at     TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
