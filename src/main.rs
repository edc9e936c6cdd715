//! The `rxguard` command line: check patients, lint packs, export the rule graph, generate
//! synthetic patients.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
