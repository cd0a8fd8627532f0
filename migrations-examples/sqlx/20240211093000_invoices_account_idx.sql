-- no-transaction
-- Invoice lists are per account; build the index without blocking invoicing.
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_account_id_issued_at_idx
    ON invoices (account_id, issued_at DESC);
