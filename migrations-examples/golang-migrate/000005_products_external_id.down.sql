ALTER TABLE products DROP CONSTRAINT IF EXISTS products_external_id_key;
ALTER TABLE products DROP COLUMN IF EXISTS external_id;
