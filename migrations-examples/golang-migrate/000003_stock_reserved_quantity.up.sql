SET lock_timeout = '2s';

ALTER TABLE stock ADD COLUMN reserved integer;
ALTER TABLE stock ALTER COLUMN reserved SET DEFAULT 0;
