-- OAuth2 mailbox login: the client secret and refresh token given through the admin API,
-- sealed with the [secrets] key like passwords (never in clear).
ALTER TABLE mailboxes ADD COLUMN oauth2_client_secret_sealed TEXT;
ALTER TABLE mailboxes ADD COLUMN oauth2_refresh_token_sealed TEXT;
