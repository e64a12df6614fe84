ALTER TABLE mailboxes DROP COLUMN oauth2_refresh_token_sealed;
ALTER TABLE mailboxes DROP COLUMN oauth2_client_secret_sealed;
