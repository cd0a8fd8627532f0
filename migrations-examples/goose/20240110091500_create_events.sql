-- +goose Up
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    venue_id    bigint      NOT NULL REFERENCES venues (id),
    title       text        NOT NULL,
    starts_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_starts_at_idx ON events (starts_at);

-- +goose Down
DROP TABLE events;
