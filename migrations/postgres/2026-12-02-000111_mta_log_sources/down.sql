DROP TABLE mta_log_sources;
