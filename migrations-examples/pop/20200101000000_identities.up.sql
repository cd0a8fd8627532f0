CREATE TABLE identities (
    id text PRIMARY KEY,
    traits text NOT NULL
);
