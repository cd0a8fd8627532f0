SET lock_timeout = '2s';

-- NOT VALID: only new and updated rows are checked now; validated in the next migration.
ALTER TABLE invoices
    ADD CONSTRAINT invoices_total_cents_positive CHECK (total_cents >= 0) NOT VALID;
