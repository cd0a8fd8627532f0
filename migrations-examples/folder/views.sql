CREATE VIEW country_names AS SELECT name FROM countries;
