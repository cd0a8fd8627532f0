ALTER TABLE namespaces ADD COLUMN data bytea;
