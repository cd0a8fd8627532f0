-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE organizations ADD COLUMN billing_email text;

-- migrate:down
ALTER TABLE organizations DROP COLUMN billing_email;
