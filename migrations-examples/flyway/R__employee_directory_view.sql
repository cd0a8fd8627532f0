CREATE OR REPLACE VIEW employee_directory AS
SELECT e.id,
       e.full_name,
       e.email,
       d.name AS department,
       m.full_name AS manager
FROM employees e
JOIN departments d ON d.id = e.department_id
LEFT JOIN employees m ON m.id = e.manager_id;
