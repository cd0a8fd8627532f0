-- migrate:up
-- A user joins an organization once.
ALTER TABLE memberships ADD PRIMARY KEY (organization_id, user_id);

-- migrate:down
ALTER TABLE memberships DROP CONSTRAINT memberships_pkey;
