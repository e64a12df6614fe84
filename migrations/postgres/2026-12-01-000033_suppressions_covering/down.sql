DROP INDEX suppressions_in_key_order;
