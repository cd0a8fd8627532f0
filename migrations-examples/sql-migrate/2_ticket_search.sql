-- +migrate Up
ALTER TABLE tickets ADD COLUMN search tsvector;

-- +migrate StatementBegin
CREATE FUNCTION tickets_search_refresh() RETURNS trigger AS $$
BEGIN
    NEW.search := to_tsvector('english', coalesce(NEW.subject, ''));
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +migrate StatementEnd

CREATE TRIGGER tickets_search_refresh
    BEFORE INSERT OR UPDATE OF subject ON tickets
    FOR EACH ROW EXECUTE FUNCTION tickets_search_refresh();

-- +migrate Down
DROP TRIGGER tickets_search_refresh ON tickets;
DROP FUNCTION tickets_search_refresh();
ALTER TABLE tickets DROP COLUMN search;
