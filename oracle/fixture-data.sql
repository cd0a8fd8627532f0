-- Rows for oracle/fixture.sql (server only: data does not change the catalog).
-- Roles are cluster-wide; the ownership and grant cases use them.
CREATE ROLE app_user;
CREATE ROLE app_owner;
-- Only users 1..2500 have orders and 1..3900 events, so deleting user 4000 passes the
-- foreign-key checks.
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'name ' || g, g / 10.0,
    timestamp '2024-01-01' + g * interval '1 minute', 'c' || (g % 100), B'1010',
    '10.0.0.0/8', 'bio', g, 'ok', 'nick' || g
  FROM generate_series(1, 5000) g;
INSERT INTO orders SELECT g, (g % 2500) + 1, g % 100, 'note' FROM generate_series(1, 5000) g;
INSERT INTO events SELECT g, (g % 3900) + 1, 'kind' FROM generate_series(1, 5000) g;
INSERT INTO sales SELECT g, 'r' || (g % 20), g % 1000, (g % 7) + 1 FROM generate_series(1, 5000) g;
REFRESH MATERIALIZED VIEW sales_by_region;
INSERT INTO measurements SELECT g, date '2024-01-01' + (g % 365), g FROM generate_series(1, 3000) g;
INSERT INTO measurements_2025 SELECT g, date '2025-01-01' + (g % 365), g FROM generate_series(1, 3000) g;
INSERT INTO measurements_2026 SELECT g, date '2026-01-01' + (g % 365), g FROM generate_series(1, 3000) g;
INSERT INTO logs SELECT g, CASE WHEN g % 2 = 0 THEN 'app' ELSE 'web' END, 'm' FROM generate_series(1, 3000) g;
INSERT INTO logs_db SELECT g, 'db', 'm' FROM generate_series(1, 3000) g;
INSERT INTO tickets (title) SELECT 't' || g FROM generate_series(1, 2000) g;
INSERT INTO badges (label) SELECT 'b' || g FROM generate_series(1, 2000) g;
INSERT INTO audit_log SELECT timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', 'm' FROM generate_series(1, 3000) g;
-- (the harness runs VACUUM ANALYZE on its own afterwards: it cannot share a batch)
