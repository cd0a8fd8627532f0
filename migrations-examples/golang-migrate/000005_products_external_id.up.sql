-- Public identifier for the storefront API.
ALTER TABLE products ADD COLUMN external_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE products ADD CONSTRAINT products_external_id_key UNIQUE (external_id);
