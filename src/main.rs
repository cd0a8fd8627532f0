//! The `lockstep` binary: all work happens in the library.

fn main() -> std::process::ExitCode {
    lockstep::cli::main()
}
