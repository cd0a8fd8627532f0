-- migrate:up
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'billing_plan') THEN
        CREATE TYPE billing_plan AS ENUM ('free', 'team', 'enterprise');
    END IF;
END
$$;

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text         NOT NULL,
    plan        billing_plan NOT NULL DEFAULT 'free',
    created_at  timestamptz  NOT NULL DEFAULT now()
);

-- migrate:down
DROP TABLE organizations;
DROP TYPE billing_plan;
