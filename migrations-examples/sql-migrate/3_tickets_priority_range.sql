-- +migrate Up
ALTER TABLE tickets
    ADD CONSTRAINT tickets_priority_range CHECK (priority BETWEEN 1 AND 5);

-- +migrate Down
ALTER TABLE tickets DROP CONSTRAINT tickets_priority_range;
