-- +migrate Up notransaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS tickets_customer_id_idx ON tickets (customer_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS tickets_search_idx ON tickets USING gin (search);

-- +migrate Down notransaction
DROP INDEX CONCURRENTLY IF EXISTS tickets_search_idx;
DROP INDEX CONCURRENTLY IF EXISTS tickets_customer_id_idx;
