-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS tickets_holder_idx ON tickets (holder);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS tickets_holder_idx;
