-- +migrate Up
SET lock_timeout = '2s';
ALTER TABLE tickets ADD COLUMN closed_at timestamptz;

UPDATE tickets SET closed_at = updated_at WHERE status = 'closed';

-- +migrate Down
ALTER TABLE tickets DROP COLUMN closed_at;
