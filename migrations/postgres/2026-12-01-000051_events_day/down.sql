DROP INDEX events_day;
