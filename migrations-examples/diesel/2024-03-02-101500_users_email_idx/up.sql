-- Log-in looks users up by e-mail.
CREATE INDEX users_email_idx ON users (email);
