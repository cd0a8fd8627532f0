-- psql runs each statement in autocommit, so CONCURRENTLY is allowed here.
SET lock_timeout = '2s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders (customer_id);
