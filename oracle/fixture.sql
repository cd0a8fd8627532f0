-- The schema every lock-oracle case starts from. The oracle applies it to a fresh server;
-- the model test replays it into a Catalog through lockstep's own parser, so keep it to
-- syntax a migration would contain.
CREATE SCHEMA archive;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION double_it(x integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email varchar(100) NOT NULL,
    name text,
    score numeric(10,2),
    created timestamp,
    code char(5),
    flags bit varying(8),
    net cidr,
    bio varchar(50),
    n integer CONSTRAINT users_n_check CHECK (n >= 0),
    feeling mood,
    nick text,
    CONSTRAINT users_nick_nn CHECK (nick IS NOT NULL)
);
CREATE INDEX users_email_idx ON users (email);
CREATE UNIQUE INDEX users_lower_email_idx ON users (lower(email));
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    amount integer,
    note text
);
ALTER TABLE orders ADD CONSTRAINT orders_amount_check CHECK (amount >= 0) NOT VALID;
CREATE TABLE events (
    id bigint PRIMARY KEY,
    user_id bigint,
    kind text
);
ALTER TABLE events ADD CONSTRAINT events_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
CREATE INDEX events_user_id_idx ON events (user_id);
CREATE TRIGGER events_touch BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE sales (
    id bigint PRIMARY KEY,
    region text NOT NULL,
    amount integer,
    qty posint
);
CREATE MATERIALIZED VIEW sales_by_region AS SELECT region, sum(amount) AS total FROM sales GROUP BY region;
CREATE UNIQUE INDEX sales_by_region_region_idx ON sales_by_region (region);
CREATE VIEW active_users AS SELECT id, email FROM users WHERE email LIKE 'user1%';
CREATE VIEW user_orders AS SELECT u.id, u.email, o.amount FROM users u JOIN orders o ON o.user_id = u.id;
CREATE VIEW big_user_orders AS SELECT id, email FROM user_orders WHERE amount > 50;
CREATE TABLE measurements (id bigint, at date NOT NULL, v integer) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX measurements_at_idx ON measurements (at);
CREATE TABLE measurements_2025 (id bigint, at date NOT NULL, v integer);
CREATE TABLE measurements_2026 (id bigint, at date NOT NULL, v integer,
    CONSTRAINT m2026_bound CHECK (at >= '2026-01-01' AND at < '2027-01-01'));
CREATE TABLE logs (id bigint, kind text NOT NULL, msg text) PARTITION BY LIST (kind);
CREATE TABLE logs_app PARTITION OF logs FOR VALUES IN ('app');
CREATE TABLE logs_other PARTITION OF logs DEFAULT;
CREATE TABLE logs_db (id bigint, kind text NOT NULL, msg text);
CREATE SEQUENCE invoice_seq;
CREATE TABLE tickets (id serial PRIMARY KEY, title text);
CREATE TABLE badges (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text);
CREATE TABLE audit_log (at timestamptz NOT NULL, msg text);
