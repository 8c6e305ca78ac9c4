//! The `comptoir` binary: everything lives in the `comptoir-api` crate.

fn main() -> std::process::ExitCode {
    comptoir_api::cli::main()
}
