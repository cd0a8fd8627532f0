ALTER TABLE totp_configurations ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
