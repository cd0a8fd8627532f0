-- +goose Up
ALTER TABLE tickets VALIDATE CONSTRAINT tickets_event_id_fkey;

-- One seat per event.
CREATE UNIQUE INDEX tickets_event_id_seat_key ON tickets (event_id, seat);

-- +goose Down
DROP INDEX tickets_event_id_seat_key;
