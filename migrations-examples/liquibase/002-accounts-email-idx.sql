--liquibase formatted sql

--changeset ben:accounts-email-idx runInTransaction:false
CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);
--rollback DROP INDEX CONCURRENTLY accounts_email_idx;
