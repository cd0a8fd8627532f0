ALTER TABLE stock ALTER COLUMN quantity TYPE integer;
