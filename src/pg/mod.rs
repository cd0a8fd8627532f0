//! A throwaway local PostgreSQL cluster started from the system binaries (tests, `--scratch`).
