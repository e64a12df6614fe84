DROP TABLE notify_attempts;
DROP TABLE notify_deliveries;
DROP TABLE notify_outbox;
DROP TABLE webhooks;
