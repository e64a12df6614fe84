DROP TABLE event_evidence;
