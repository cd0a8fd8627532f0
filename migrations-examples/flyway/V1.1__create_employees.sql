CREATE TABLE employees (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department_id  integer NOT NULL REFERENCES departments (id),
    email          text    NOT NULL,
    full_name      text    NOT NULL,
    salary         integer NOT NULL,
    hired_on       date    NOT NULL DEFAULT current_date
);

CREATE INDEX employees_department_id_idx ON employees (department_id);

-- ${app_role} is set per environment in flyway.conf (flyway.placeholders.app_role).
GRANT SELECT, INSERT, UPDATE ON employees TO ${app_role};
