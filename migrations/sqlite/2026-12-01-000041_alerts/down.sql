DROP TABLE notify_leases;
DROP TABLE alert_episodes;
