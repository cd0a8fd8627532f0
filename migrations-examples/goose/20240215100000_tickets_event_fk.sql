-- +goose Up
SET lock_timeout = '2s';
ALTER TABLE tickets
    ADD CONSTRAINT tickets_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events (id) NOT VALID;

-- +goose Down
ALTER TABLE tickets DROP CONSTRAINT tickets_event_id_fkey;
