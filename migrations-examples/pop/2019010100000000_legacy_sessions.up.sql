CREATE TABLE legacy_sessions (
    id bigserial PRIMARY KEY,
    token text NOT NULL
);
