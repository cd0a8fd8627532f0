-- Bulk warehouses hold more than 2^31 screws.
ALTER TABLE stock ALTER COLUMN quantity TYPE bigint;
