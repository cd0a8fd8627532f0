CREATE INDEX identities_state_idx ON identities (state);
