DROP INDEX identities_state_idx;
