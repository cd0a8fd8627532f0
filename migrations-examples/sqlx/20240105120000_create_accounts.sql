CREATE TABLE accounts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug        text        NOT NULL,
    plan        text        NOT NULL DEFAULT 'starter',
    created_at  timestamptz NOT NULL DEFAULT now()
);
