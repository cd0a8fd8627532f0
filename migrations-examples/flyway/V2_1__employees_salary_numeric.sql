-- Salaries get cents.
ALTER TABLE employees ALTER COLUMN salary TYPE numeric(12,2);
