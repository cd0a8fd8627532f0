SET lock_timeout = '2s';

-- Nullable, no default: a catalog-only change.
ALTER TABLE orders ADD COLUMN status text;
ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
