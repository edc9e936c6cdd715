//! The `rxguard` command line: check patients, lint packs, export the rule graph, generate
//! synthetic patients.

mod cli;

fn main() -> std::process::ExitCode {
    // A second guard behind the parser's own size, depth and operator limits. pest's call limit
    // is process-wide, so only the binary, which owns its process, sets it; a library host keeps
    // control of its own.
    pest::set_call_limit(std::num::NonZeroUsize::new(50_000_000));
    cli::main()
}
