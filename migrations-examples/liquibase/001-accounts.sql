--liquibase formatted sql

--changeset ana:1
CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    email text NOT NULL
);
--rollback DROP TABLE accounts;

--changeset ana:2 dbms:mysql
CREATE TABLE accounts_mysql_only (id bigint PRIMARY KEY);

--changeset ana:3
ALTER TABLE accounts ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
--rollback ALTER TABLE accounts DROP COLUMN created_at;
