//! The `pikaci` binary: everything lives in the `pikaci_cli` library.

fn main() -> std::process::ExitCode {
    pikaci_cli::main()
}
