-- +migrate Up
CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    email       text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tickets (
    id           bigserial PRIMARY KEY,
    customer_id  bigint      NOT NULL REFERENCES customers (id),
    subject      text        NOT NULL,
    status       text        NOT NULL DEFAULT 'open',
    priority     integer     NOT NULL DEFAULT 3,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +migrate Down
DROP TABLE tickets;
DROP TABLE customers;
