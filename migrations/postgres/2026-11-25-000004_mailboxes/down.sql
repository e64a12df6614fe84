DROP TABLE mailbox_checkpoints;
DROP TABLE mailbox_status;
