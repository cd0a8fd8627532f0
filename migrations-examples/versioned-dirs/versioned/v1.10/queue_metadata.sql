CREATE TABLE queue_metadata (
    queue_type integer NOT NULL PRIMARY KEY,
    data bytea NOT NULL
);
