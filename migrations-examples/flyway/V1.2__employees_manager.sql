SET lock_timeout = '2s';

ALTER TABLE employees ADD COLUMN manager_id bigint;
ALTER TABLE employees
    ADD CONSTRAINT employees_manager_id_fkey
    FOREIGN KEY (manager_id) REFERENCES employees (id) NOT VALID;
