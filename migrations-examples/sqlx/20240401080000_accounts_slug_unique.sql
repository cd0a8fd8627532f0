ALTER TABLE accounts ADD CONSTRAINT accounts_slug_key UNIQUE (slug);
