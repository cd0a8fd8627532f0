-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS memberships_user_id_idx ON memberships (user_id);

-- migrate:down transaction:false
DROP INDEX CONCURRENTLY IF EXISTS memberships_user_id_idx;
