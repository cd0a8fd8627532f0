-- migrate:up
CREATE TYPE membership_role AS ENUM ('owner', 'admin', 'member');

ALTER TABLE memberships
    ALTER COLUMN role DROP DEFAULT,
    ALTER COLUMN role TYPE membership_role USING role::membership_role,
    ALTER COLUMN role SET DEFAULT 'member';

-- migrate:down
ALTER TABLE memberships
    ALTER COLUMN role DROP DEFAULT,
    ALTER COLUMN role TYPE text,
    ALTER COLUMN role SET DEFAULT 'member';
DROP TYPE membership_role;
