//! The `pika-news` binary: the command line is in `cli`, the service in the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
