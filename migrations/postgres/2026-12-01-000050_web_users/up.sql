-- Web admin sign-in: people with a name and an argon2 password hash (PHC string; never the
-- password), and browser sessions. A session keeps only the SHA-256 of its cookie and its own
-- CSRF token; it stands for a user or for the API token it was signed in with, so revoking
-- the token or deleting the user ends it.
CREATE TABLE web_users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,                 -- admin | viewer
    password_hash TEXT NOT NULL,        -- argon2id PHC string
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

CREATE TABLE web_sessions (
    id BIGSERIAL PRIMARY KEY,
    session_hash TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the cookie value
    csrf_token TEXT NOT NULL,
    user_id BIGINT,                     -- signed in with a name and password, or
    token_id BIGINT,                    -- with an API token
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
