DROP TABLE web_sessions;
DROP TABLE web_users;
