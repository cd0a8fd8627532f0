CREATE TABLE queues (
    queue_type integer NOT NULL,
    message_id bigint NOT NULL,
    PRIMARY KEY (queue_type, message_id)
);
