-- Nothing on SQLite: one writer at a time (BEGIN IMMEDIATE), so ids are given in commit
-- order already. PostgreSQL's migration of the same number adds `events.tx_id`.
SELECT 1;
