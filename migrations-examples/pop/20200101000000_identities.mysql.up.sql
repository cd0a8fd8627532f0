CREATE TABLE identities (
    id char(36) PRIMARY KEY,
    traits json NOT NULL
);
