CREATE INDEX queues_message_idx ON queues (message_id);
