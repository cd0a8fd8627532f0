-- Deploy flipr:flips to pg
-- requires: users

BEGIN;

CREATE TABLE flipr.flips (
    id bigserial PRIMARY KEY,
    nickname text NOT NULL REFERENCES flipr.users (nickname),
    body text NOT NULL
);

COMMIT;
