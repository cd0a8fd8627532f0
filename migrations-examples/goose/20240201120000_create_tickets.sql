-- +goose Up
CREATE TABLE tickets (
    id          bigserial PRIMARY KEY,
    event_id    bigint      NOT NULL,
    seat        text        NOT NULL,
    holder      text,
    sold_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tickets;
