-- flyway runs a script whose statements all need it outside a transaction.
CREATE UNIQUE INDEX CONCURRENTLY employees_email_key ON employees (lower(email));
