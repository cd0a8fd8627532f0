-- Runs outside a transaction (metadata.toml), as CONCURRENTLY requires.
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_author_id_idx ON posts (author_id);
