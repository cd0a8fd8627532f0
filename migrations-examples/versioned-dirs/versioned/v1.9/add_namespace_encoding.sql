ALTER TABLE namespaces ADD COLUMN data_encoding varchar(16);
