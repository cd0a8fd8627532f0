CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      varchar(40) NOT NULL UNIQUE,
    email         text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

SELECT diesel_manage_updated_at('users');
