-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

CREATE TABLE venues (
    id          bigserial PRIMARY KEY,
    name        text        NOT NULL,
    city        text        NOT NULL,
    capacity    integer     NOT NULL CHECK (capacity > 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER venues_touch_updated_at
    BEFORE UPDATE ON venues
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- +goose Down
DROP TABLE venues;
DROP FUNCTION touch_updated_at();
