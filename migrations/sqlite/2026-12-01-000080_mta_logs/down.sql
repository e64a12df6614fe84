DROP TABLE event_provenance;
DROP TABLE log_checkpoints;
