-- Deploy flipr:users to pg (reworked)

BEGIN;

ALTER TABLE flipr.users ADD COLUMN display_name text;

COMMIT;
