SET lock_timeout = '3s';

UPDATE posts SET published_at = created_at WHERE published_at IS NULL;
ALTER TABLE posts ALTER COLUMN published_at SET NOT NULL;
