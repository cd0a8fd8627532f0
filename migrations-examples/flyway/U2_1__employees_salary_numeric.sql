ALTER TABLE employees ALTER COLUMN salary TYPE integer USING round(salary)::integer;
