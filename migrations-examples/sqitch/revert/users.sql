-- Revert flipr:users from pg (reworked)

BEGIN;

ALTER TABLE flipr.users DROP COLUMN display_name;

COMMIT;
