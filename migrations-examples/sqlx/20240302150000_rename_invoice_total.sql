-- The amount is in cents; say so.
ALTER TABLE invoices RENAME COLUMN total TO total_cents;
