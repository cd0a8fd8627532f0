INSERT INTO countries (code, name) VALUES ('NL', 'Netherlands'), ('PT', 'Portugal');
