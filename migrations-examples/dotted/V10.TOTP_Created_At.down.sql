ALTER TABLE totp_configurations DROP COLUMN created_at;
