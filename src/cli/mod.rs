//! Command-line parsing and the subcommands.

mod diagnostics;
mod text;

use clap::{Parser, Subcommand, ValueEnum};
use rxguard::batch::{self, BatchOptions, RecordOutcome, Summary};
use rxguard::date::Date;
use rxguard::ir::Severity;
use rxguard::{Engine, engine};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code when a finding reaches `--fail-on`.
const EXIT_FINDINGS: u8 = 1;
/// Exit code for usage errors, unreadable packs and rejected records.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(
    name = "rxguard",
    version,
    about = "Medication-safety rules: check patients' medication lists against clinical rule packs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check patients (JSON or NDJSON; `-` or nothing reads standard input).
    Check(CheckArgs),
    /// Check rule packs and report every error (the bundled packs when no path is given).
    Lint {
        /// Pack files or folders.
        paths: Vec<PathBuf>,
        /// Diagnostics as text or JSON lines.
        #[arg(long, value_enum, default_value_t = LintFormat::Text)]
        format: LintFormat,
        /// `--deny warnings`: warnings fail the run, as errors do.
        #[arg(long, value_enum)]
        deny: Option<Deny>,
    },
    /// Explain one rule (or all) for one patient: the value of every part of its condition, what
    /// each predicate read, and why it fired or did not.
    Explain {
        /// The patient: a JSON record, or NDJSON with `--id`.
        patient: String,
        /// The rule to explain.
        #[arg(long, required_unless_present = "all")]
        rule: Option<String>,
        /// Explain every rule.
        #[arg(long, conflicts_with = "rule")]
        all: bool,
        /// The patient's `id`, when the file holds several records.
        #[arg(long)]
        id: Option<String>,
        /// Rule pack files or folders, instead of the bundled packs.
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Evaluation date (YYYY-MM-DD); default today.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<Date>,
        /// Text for a person, JSON for a program.
        #[arg(long, value_enum, default_value_t = LintFormat::Text)]
        format: LintFormat,
    },
    /// Run the tests written in rule packs (the bundled packs when no path is given).
    Test {
        /// Pack files or folders.
        paths: Vec<PathBuf>,
        /// Also mutate the rules (thresholds nudged, `<`/`<=` swapped, `and`/`or` flipped,
        /// `unless` dropped) and report each mutant no test kills.
        #[arg(long)]
        mutate: bool,
    },
    /// Format rule packs in place, in the one canonical layout (comments kept).
    Fmt {
        /// Pack files or folders (every `*.rules` file under a folder).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Do not write: list the files that are not formatted and exit with 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Write the rule catalogue as markdown (the bundled packs when no path is given).
    Doc {
        /// Pack files or folders.
        paths: Vec<PathBuf>,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Do not write: exit with 1 when the output file is not up to date.
        #[arg(long, requires = "output")]
        check: bool,
    },
    /// Print the compiled rule graph as Graphviz DOT, or render it as SVG with Graphviz.
    Graph {
        /// Pack files or folders (the bundled packs when none is given).
        paths: Vec<PathBuf>,
        /// `dot` (text), or `svg` (a picture, drawn by Graphviz's `dot` program).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Draw only what this rule depends on.
        #[arg(long)]
        rule: Option<String>,
    },
    /// Generate realistic synthetic patients as NDJSON, for load tests.
    Gen(GenArgs),
    /// Serve CDS Hooks over HTTP: order-select, order-sign and patient-view cards.
    #[cfg(feature = "serve")]
    Serve(Box<ServeArgs>),
}

#[cfg(feature = "serve")]
#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("authentication")
        .required(true)
        .args(["jwks", "jku", "insecure_no_auth"])
        .multiple(true)
))]
#[command(group(clap::ArgGroup::new("tokens").args(["jwks", "jku"]).multiple(true)))]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Rule pack files or folders, instead of the bundled packs.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// A site profile (TOML) that disables or re-grades rules for one hospital.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// An RxNorm relation table (RXNREL.RRF, or a descendant_rxcui,ingredient_rxcui CSV).
    #[arg(long, value_name = "FILE")]
    rxnorm: Option<PathBuf>,
    /// The EHR's public keys (a JWKS file): every request must carry a JWT signed by one.
    #[arg(long, requires_all = ["iss", "audience"])]
    jwks: Option<PathBuf>,
    /// A JWKS URL that a token's `jku` header may name (https, or http on loopback): such a
    /// token is verified with the keys fetched from it, cached; repeat it for several. A `jku`
    /// naming any other URL is refused without being fetched.
    #[arg(long, value_name = "URL", requires_all = ["iss", "audience"])]
    jku: Vec<String>,
    /// Seconds the keys fetched from a `jku` URL are used before they are fetched again.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    jwks_cache_seconds: u64,
    /// An issuer (`iss`) whose tokens are accepted; repeat it for several.
    #[arg(long)]
    iss: Vec<String>,
    /// This service's URL as the EHR calls it, which tokens must name as their `aud`
    /// (`https://cds.example.org/cds-services`).
    #[arg(long)]
    audience: Option<String>,
    /// The longest a token may live, in seconds (`exp - iat`, and `exp` from now).
    #[arg(long, value_name = "SECONDS", default_value_t = rxguard::serve::auth::DEFAULT_MAX_LIFETIME_SECONDS, requires = "tokens")]
    max_token_lifetime: u64,
    /// Where the tokens already used are kept (appended, synced, read back at start), so a
    /// restart does not reopen replays; default `<feedback log>.replay` beside the feedback log.
    #[arg(long, value_name = "FILE", requires = "tokens")]
    replay_store: Option<PathBuf>,
    /// The most unexpired tokens the replay store holds; a new token is refused while it is full.
    #[arg(long, value_name = "N", default_value_t = rxguard::serve::DEFAULT_REPLAY_CAPACITY, requires = "tokens")]
    replay_capacity: usize,
    /// Accept requests without any token: for trials on your own machine only, never with
    /// patient data.
    #[arg(long, conflicts_with_all = ["jwks", "jku", "iss", "audience"])]
    insecure_no_auth: bool,
    /// Append card feedback to this file, one JSON line per card (standard output without it).
    #[arg(long)]
    feedback_log: Option<PathBuf>,
    /// Evaluation date (YYYY-MM-DD) for every request: for tests and trials; default the day
    /// of each request.
    #[arg(long, value_parser = parse_date)]
    as_of: Option<Date>,
    /// Seconds a client may take to send a request's headers, and may leave a keep-alive
    /// connection idle, before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds a request body may pause between two reads (408 past it).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout: u64,
    /// Seconds a whole request may take, body and answer included (408 past it).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    request_timeout: u64,
    /// The most connections open at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Seconds the requests in flight may go on after Ctrl-C or SIGTERM, before their
    /// connections are closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    shutdown_grace: u64,
    /// Speak HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A FHIR server (base URL) that may be read when a request's prefetch lacks something and
    /// its `fhirServer` is this one; repeat it for several. https, or http on loopback only.
    #[arg(long, value_name = "URL")]
    fhir_server: Vec<String>,
    /// Seconds one answer of a FHIR server may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    fhir_timeout: u64,
    /// The largest answer read from a FHIR server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    fhir_max_bytes: usize,
    /// The most pages of one FHIR search read (`Bundle.link[next]`).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    fhir_max_pages: u64,
    /// Serve `/healthz`, `/readyz` and `/metrics` on this address instead (plain HTTP, for an
    /// internal network), not on `--addr`.
    #[arg(long, value_name = "HOST:PORT")]
    ops_addr: Option<std::net::SocketAddr>,
    /// Where the rule catalogue (`rxguard doc`) is published: each card links to its rule's
    /// entry there, `<URL>#<rule id>`.
    #[arg(long, value_name = "URL")]
    catalogue_url: Option<String>,
    /// The request log on standard error: one line per request (method, route, status, time
    /// taken; never patient data), as text or as JSON lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct GenArgs {
    /// How many patients.
    #[arg(long, default_value_t = 1000)]
    patients: u64,
    /// Seed: the same seed gives the same patients.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records in rxguard's own format, or FHIR R4 Bundles (one per line).
    #[arg(long, value_enum, default_value_t = GenFormat::Rxguard)]
    format: GenFormat,
    /// Write a FHIR Bulk Data export into this folder instead (one NDJSON file per resource
    /// type, and its manifest.json).
    #[arg(long, conflicts_with = "format")]
    bulk: Option<PathBuf>,
    /// With --bulk: compress every file (`.ndjson.gz`).
    #[arg(long, requires = "bulk")]
    gzip: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum GenFormat {
    Rxguard,
    Fhir,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Patient files (`-` for standard input).
    files: Vec<String>,
    /// A FHIR Bulk Data export: a folder of NDJSON files by resource type (`.ndjson`,
    /// `.ndjson.gz`), or its `$export` manifest; checked patient by patient in bounded memory.
    #[arg(long, conflicts_with = "files")]
    bulk: Option<PathBuf>,
    /// With --bulk: MiB of resources one temporary bucket holds; memory holds about twice this.
    #[arg(long, default_value_t = 32, requires = "bulk", value_parser = clap::value_parser!(u64).range(1..))]
    bucket_mib: u64,
    /// With --bulk: where the temporary buckets go (default: the system's temporary folder).
    #[arg(long, requires = "bulk")]
    temp_dir: Option<PathBuf>,
    /// Rule pack files or folders, instead of the bundled packs.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Evaluation date (YYYY-MM-DD); default today.
    #[arg(long, value_parser = parse_date)]
    as_of: Option<Date>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Input format.
    #[arg(long, value_enum, default_value_t = InputArg::Auto)]
    input: InputArg,
    /// A site profile (TOML) that disables or re-grades rules for one hospital.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// An active order with no end that started more than this many days before the
    /// evaluation date is history (default 365, or the profile's; 0: no horizon).
    #[arg(long)]
    order_horizon_days: Option<u32>,
    /// An on-hold entry held at least this many days is an interruption for withdrawal rules
    /// (default 2, or the profile's).
    #[arg(long)]
    on_hold_days: Option<u32>,
    /// An RxNorm relation table (RXNREL.RRF, or a descendant_rxcui,ingredient_rxcui CSV) through
    /// which clinical and branded drug codes resolve to their ingredients.
    #[arg(long, value_name = "FILE")]
    rxnorm: Option<PathBuf>,
    /// Exit with 1 when a finding reaches this severity.
    #[arg(long, value_enum)]
    fail_on: Option<SeverityArg>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Records read and checked at a time.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    chunk_size: u64,
    /// The longest record line read, in bytes (default 16 MiB): a longer line is rejected with
    /// its line number, unread.
    #[arg(long, default_value_t = batch::DEFAULT_MAX_RECORD_BYTES as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_record_bytes: u64,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Ndjson,
    /// A Bundle of FHIR DetectedIssue resources per patient, one per line.
    Fhir,
    /// The CDS Hooks cards per patient, one `{"cards": [...]}` per line.
    CdsHooks,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum InputArg {
    /// FHIR when a record names a `resourceType`, else rxguard's own format.
    Auto,
    /// rxguard's own patient format.
    Rxguard,
    /// FHIR R4: a Bundle (or a resource) per record.
    Fhir,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum GraphFormat {
    Dot,
    Svg,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    Warnings,
}

#[derive(Clone, Copy, ValueEnum)]
enum LintFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum SeverityArg {
    Contraindicated,
    Major,
    Moderate,
    Minor,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Contraindicated => Severity::Contraindicated,
            SeverityArg::Major => Severity::Major,
            SeverityArg::Moderate => Severity::Moderate,
            SeverityArg::Minor => Severity::Minor,
        }
    }
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::Lint {
            paths,
            format,
            deny,
        } => lint(&paths, format, deny.is_some()),
        Command::Test { paths, mutate } => test(&paths, mutate),
        Command::Explain {
            patient,
            rule,
            all,
            id,
            rules,
            as_of,
            format,
        } => explain(
            &patient,
            rule.as_deref(),
            all,
            id.as_deref(),
            &rules,
            as_of,
            format,
        ),
        Command::Fmt { paths, check } => fmt(&paths, check),
        Command::Doc {
            paths,
            output,
            check,
        } => doc(&paths, output.as_deref(), check),
        Command::Graph {
            paths,
            format,
            rule,
        } => graph(&paths, format, rule.as_deref()),
        Command::Gen(args) => generate(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve(*args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The pack texts at `paths`, or the bundled packs when there are none.
fn pack_sources(paths: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    if paths.is_empty() {
        return Ok(rxguard::bundled::PACKS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect());
    }
    engine::read_packs(paths).map_err(|e| format!("cannot read the rule packs: {e}"))
}

/// Compiles the packs at `paths` (bundled when empty), printing diagnostics on failure.
fn load(paths: &[PathBuf]) -> Result<Engine, String> {
    Engine::from_sources(pack_sources(paths)?).map_err(failed)
}

/// The same, with the packs' tests.
fn load_with_tests(paths: &[PathBuf]) -> Result<Engine, String> {
    Engine::from_sources_with_tests(pack_sources(paths)?).map_err(failed)
}

fn failed(d: rxguard::diagnostic::Diagnostics) -> String {
    diagnostics::print(&d);
    format!("{} error(s) in the rule packs", d.errors().count())
}

fn lint(paths: &[PathBuf], format: LintFormat, deny: bool) -> Result<ExitCode, String> {
    let sources = pack_sources(paths)?;
    let count = sources.len();
    match Engine::from_sources_with_tests(sources) {
        Ok(engine) => {
            let warnings = rxguard::diagnostic::Diagnostics {
                sources: engine.graph().sources.clone(),
                items: rxguard::lint::lint(engine.graph()),
            };
            let n = warnings.items.len();
            match format {
                LintFormat::Text => {
                    if n > 0 {
                        diagnostics::print(&warnings);
                    }
                    let rules = engine.graph().program.rules.len();
                    let tests = engine.graph().program.tests.len();
                    println!(
                        "{count} pack(s), {rules} rule(s), {tests} test(s): no errors, {n} warning(s){}",
                        if deny && n > 0 { " (denied)" } else { "" }
                    );
                }
                LintFormat::Json => print!("{}", warnings.render_json_lines()),
            }
            Ok(if deny && n > 0 {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(d) => {
            match format {
                LintFormat::Text => {
                    diagnostics::print(&d);
                    eprintln!("{} error(s)", d.errors().count());
                }
                LintFormat::Json => print!("{}", d.render_json_lines()),
            }
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn fmt(paths: &[PathBuf], check: bool) -> Result<ExitCode, String> {
    let sources =
        engine::read_packs(paths).map_err(|e| format!("cannot read the rule packs: {e}"))?;
    let mut unformatted = Vec::new();
    let mut refused = 0;
    for (name, text) in &sources {
        let mut map = rxguard::diagnostic::SourceMap::default();
        let id = map.add(name.clone(), text.clone());
        let (_, errors) = rxguard::syntax::parse_pack(id, text);
        if !errors.is_empty() {
            // A pack that does not parse is not formatted: its layout cannot be trusted.
            diagnostics::print(&rxguard::diagnostic::Diagnostics {
                sources: map,
                items: errors,
            });
            refused += 1;
            continue;
        }
        let formatted = rxguard::fmt::format(text);
        if rxguard::fmt::tokens(&formatted) != rxguard::fmt::tokens(text)
            || rxguard::fmt::comments(&formatted) != rxguard::fmt::comments(text)
        {
            return Err(format!(
                "formatting {name} would change more than its layout; it was left as it is"
            ));
        }
        if formatted != *text {
            unformatted.push(name.clone());
            if !check {
                std::fs::write(name, &formatted)
                    .map_err(|e| format!("cannot write {name}: {e}"))?;
            }
        }
    }
    for name in &unformatted {
        println!(
            "{}{name}",
            if check {
                "not formatted: "
            } else {
                "formatted "
            }
        );
    }
    if refused > 0 {
        eprintln!("{refused} pack(s) with syntax errors were not formatted");
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    if check && !unformatted.is_empty() {
        eprintln!("run `rxguard fmt` on them");
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(
    file: &str,
    rule: Option<&str>,
    all: bool,
    id: Option<&str>,
    rules: &[PathBuf],
    as_of: Option<Date>,
    format: LintFormat,
) -> Result<ExitCode, String> {
    let engine = load(rules)?;
    let g = engine.graph();
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let records: Vec<&str> = if text.trim_start().starts_with('{')
        && text.lines().filter(|l| !l.trim().is_empty()).count() > 1
        && serde_json::from_str::<serde_json::Value>(&text).is_err()
    {
        text.lines().filter(|l| !l.trim().is_empty()).collect()
    } else {
        vec![text.as_str()]
    };
    let mut patients = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let p: rxguard::patient::Patient<'_> =
            serde_json::from_str(r).map_err(|e| format!("{file}:{}: {e}", i + 1))?;
        patients.push(p);
    }
    let patient = match (id, patients.len()) {
        (None, 1) => patients.remove(0),
        (None, n) => return Err(format!("{file} holds {n} patients: name one with --id")),
        (Some(id), _) => patients
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| format!("no patient with id `{id}` in {file}"))?,
    };
    let ids: Vec<usize> = if all {
        (0..g.program.rules.len()).collect()
    } else {
        let name = rule.unwrap_or_default();
        match g.program.rules.iter().position(|r| r.name == name) {
            Some(i) => vec![i],
            None => {
                let help = rxguard::diagnostic::suggestion(
                    name,
                    g.program.rules.iter().map(|r| r.name.as_str()),
                    || "`rxguard doc` lists the rules".to_string(),
                );
                return Err(format!("no rule named `{name}`: {help}"));
            }
        }
    };
    let as_of = as_of.unwrap_or_else(Date::today);
    let explained = rxguard::explain::PatientExplanation::new(g, &patient, as_of, &ids)
        .map_err(|e| format!("{file}: {e}"))?;
    let out = match format {
        LintFormat::Text => explained.render_text(),
        LintFormat::Json => serde_json::to_string_pretty(&explained).unwrap_or_default() + "\n",
    };
    match io::stdout().write_all(out.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("cannot write: {e}")),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn test(paths: &[PathBuf], mutate: bool) -> Result<ExitCode, String> {
    let sources = pack_sources(paths)?;
    let engine = Engine::from_sources_with_tests(sources.clone()).map_err(failed)?;
    let outcomes = rxguard::testing::run(&engine);
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed()).collect();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let write_err = |e: io::Error| format!("cannot write the report: {e}");
    for outcome in &failed {
        let text = rxguard::testing::render_failures(outcome, &engine.graph().sources);
        writeln!(out, "{text}").map_err(write_err)?;
    }
    writeln!(
        out,
        "{} passed, {} failed",
        outcomes.len() - failed.len(),
        failed.len()
    )
    .map_err(write_err)?;
    out.flush().map_err(write_err)?;
    if !failed.is_empty() {
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    if !mutate {
        return Ok(ExitCode::SUCCESS);
    }
    let mutants = rxguard::mutate::mutants(&engine);
    let verdicts = rxguard::mutate::run(&sources, &mutants);
    let sources_map = &engine.graph().sources;
    let mut killed = 0;
    let mut survived = 0;
    let mut invalid = 0;
    for (m, v) in mutants.iter().zip(&verdicts) {
        match v {
            rxguard::mutate::Verdict::Killed(_) => killed += 1,
            rxguard::mutate::Verdict::Invalid => invalid += 1,
            rxguard::mutate::Verdict::Survived => {
                survived += 1;
                writeln!(
                    out,
                    "SURVIVED {}: {} in rule `{}`: no test fails",
                    sources_map.position(m.span),
                    m.edit,
                    m.rule
                )
                .map_err(write_err)?;
            }
        }
    }
    let counted = killed + survived;
    writeln!(
        out,
        "{counted} mutants: {killed} killed, {survived} survived ({:.1}% killed){}",
        if counted == 0 {
            100.0
        } else {
            100.0 * killed as f64 / counted as f64
        },
        if invalid > 0 {
            format!("; {invalid} did not compile and are not counted")
        } else {
            String::new()
        }
    )
    .map_err(write_err)?;
    out.flush().map_err(write_err)?;
    Ok(if survived == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

fn doc(
    paths: &[PathBuf],
    output: Option<&std::path::Path>,
    check: bool,
) -> Result<ExitCode, String> {
    let engine = load_with_tests(paths)?;
    let text = rxguard::doc::catalogue(&engine.graph().program, &engine.graph().sources);
    let Some(path) = output else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    if check {
        let current = std::fs::read_to_string(path).unwrap_or_default();
        if current == text {
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "{} is out of date: regenerate it with `rxguard doc {}-o {}`",
            path.display(),
            paths
                .iter()
                .map(|p| format!("{} ", p.display()))
                .collect::<String>(),
            path.display()
        );
        return Ok(ExitCode::from(EXIT_FINDINGS));
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn graph(paths: &[PathBuf], format: GraphFormat, rule: Option<&str>) -> Result<ExitCode, String> {
    let engine = load(paths)?;
    let g = engine.graph();
    let dot = match rule {
        None => g.to_dot(),
        Some(name) => match g.program.rules.iter().position(|r| r.name == name) {
            Some(id) => g.rule_to_dot(id),
            None => {
                let names = g.program.rules.iter().map(|r| r.name.as_str());
                let help = rxguard::diagnostic::suggestion(name, names, || {
                    "`rxguard doc` lists the rules".to_string()
                });
                return Err(format!("no rule named `{name}`: {help}"));
            }
        },
    };
    let bytes = match format {
        GraphFormat::Dot => dot.into_bytes(),
        GraphFormat::Svg => render_svg(&dot)?,
    };
    match io::stdout().write_all(&bytes) {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the graph: {e}"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// DOT to SVG through Graphviz's `dot` program (`RXGUARD_DOT` names another one).
fn render_svg(dot: &str) -> Result<Vec<u8>, String> {
    let program = std::env::var_os("RXGUARD_DOT").unwrap_or_else(|| "dot".into());
    let spawned = std::process::Command::new(&program)
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "drawing SVG needs Graphviz, and its `{}` program was not found. Install Graphviz (Debian and Ubuntu: `apt install graphviz`; macOS: `brew install graphviz`), or write DOT with `--format dot` and draw it elsewhere.",
                program.to_string_lossy()
            ));
        }
        Err(e) => return Err(format!("cannot run Graphviz: {e}")),
    };
    let mut stdin = child.stdin.take().ok_or("cannot write to Graphviz")?;
    let input = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("Graphviz failed: {e}"))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!(
            "Graphviz failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

fn generate(args: &GenArgs) -> Result<ExitCode, String> {
    if let Some(dir) = &args.bulk {
        let fail = |e: io::Error| format!("cannot write {}: {e}", dir.display());
        let gzip: &[&str] = if args.gzip {
            rxguard::bulk::source::READ
        } else {
            &[]
        };
        let mut writer = rxguard::bulk::write::BulkWriter::create(dir, gzip).map_err(fail)?;
        for bundle in rxguard::synth::bundles(args.patients, args.seed) {
            writer.bundle(&bundle).map_err(fail)?;
        }
        writer.finish().map_err(fail)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        GenFormat::Rxguard => {
            for line in rxguard::synth::ndjson(args.patients, args.seed) {
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
        }
        GenFormat::Fhir => {
            for bundle in rxguard::synth::bundles(args.patients, args.seed) {
                if writeln!(out, "{bundle}").is_err() {
                    break;
                }
            }
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

/// Reads a site's RxNorm relation table (errors name the file and the faulty lines).
fn read_rxnorm(path: &std::path::Path) -> Result<rxguard::patient::RxnormRelations, String> {
    rxguard::patient::RxnormRelations::from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The engine of `check` and `serve`: the packs already given, then the site profile and the
/// RxNorm relation table when their files are named. An error names the file it comes from.
fn build_engine(
    mut builder: rxguard::engine::EngineBuilder,
    profile: Option<&std::path::Path>,
    rxnorm: Option<&std::path::Path>,
) -> Result<Engine, String> {
    if let Some(path) = profile {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let parsed = rxguard::profile::Profile::parse(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.profile(parsed);
    }
    if let Some(path) = rxnorm {
        builder = builder.rxnorm(read_rxnorm(path)?);
    }
    builder.build().map_err(|e| match e {
        rxguard::engine::BuildError::Packs(d) => failed(d),
        rxguard::engine::BuildError::Profile(e) => match profile {
            Some(path) => format!("{}: {e}", path.display()),
            None => e.to_string(),
        },
    })
}

#[cfg(feature = "serve")]
fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    use rxguard::serve::{Auth, Config, JwtAuth, Tls};
    use std::time::Duration;
    request_log(args.log_format);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Tls::from_pem_files(cert, key).map_err(|e| e.to_string())?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let builder = Engine::builder().packs(pack_sources(&args.rules)?);
    let engine = build_engine(builder, args.profile.as_deref(), args.rxnorm.as_deref())?;
    let auth = match (&args.jwks, args.jku.is_empty(), args.insecure_no_auth) {
        (jwks, jku_empty, false) if jwks.is_some() || !jku_empty => {
            let (issuers, audience) = (args.iss.clone(), args.audience.clone().unwrap_or_default());
            let jwt = match jwks {
                Some(jwks) => JwtAuth::from_jwks_file(jwks, issuers, audience),
                None => JwtAuth::jku_only(issuers, audience),
            };
            let mut jwt = jwt
                .map_err(|e| e.to_string())?
                .max_lifetime(args.max_token_lifetime);
            if !jku_empty {
                let ttl = Duration::from_secs(args.jwks_cache_seconds);
                jwt = jwt.allow_jku(&args.jku, ttl).map_err(|e| e.to_string())?;
            }
            let store = args.replay_store.clone().or_else(|| {
                args.feedback_log
                    .as_deref()
                    .map(rxguard::serve::replay_store_beside)
            });
            Auth::Jwt(match store {
                Some(path) => jwt
                    .replay_store(&path, args.replay_capacity)
                    .map_err(|e| e.to_string())?,
                None => {
                    eprintln!(
                        "warning: no --feedback-log or --replay-store: the tokens already used are kept in memory only, and a restart forgets them."
                    );
                    jwt.replay_memory(args.replay_capacity)
                }
            })
        }
        _ => {
            eprintln!(
                "warning: --insecure-no-auth: requests are accepted without any token. For trials on your own machine only, never with patient data."
            );
            Auth::InsecureNoAuth
        }
    };
    let packs: Vec<String> = engine
        .packs()
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    let as_of = match args.as_of {
        Some(d) => format!("as of {d}"),
        None => "as of each request's day".to_string(),
    };
    let config = Config {
        engine,
        auth,
        feedback_log: args.feedback_log,
        as_of: args.as_of,
        limits: rxguard::serve::Limits {
            header_timeout: Duration::from_secs(args.header_timeout),
            body_timeout: Duration::from_secs(args.body_timeout),
            request_timeout: Duration::from_secs(args.request_timeout),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
        },
        tls,
        fhir_servers: args.fhir_server,
        catalogue_url: args.catalogue_url,
        ops_addr: args.ops_addr,
        fetch_limits: rxguard::serve::FetchLimits {
            timeout: Duration::from_secs(args.fhir_timeout),
            max_bytes: args.fhir_max_bytes,
            max_pages: usize::try_from(args.fhir_max_pages).unwrap_or(usize::MAX),
        },
    };
    rxguard::serve::run(args.addr, config, |addr| {
        eprintln!(
            "rxguard serve: {scheme}://{addr}/cds-services, {as_of}; packs: {}",
            packs.join(", ")
        );
    })
    .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The request log of `rxguard serve`, on standard error.
#[cfg(feature = "serve")]
fn request_log(format: LogFormat) {
    let log = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false);
    // Only fails when a subscriber is already set, which then keeps logging.
    let _ = match format {
        LogFormat::Text => log.try_init(),
        LogFormat::Json => log.json().flatten_event(true).try_init(),
    };
}

fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let builder = Engine::builder()
        .packs(pack_sources(&args.rules)?)
        .order_horizon_days(args.order_horizon_days)
        .on_hold_days(args.on_hold_days);
    let engine = build_engine(builder, args.profile.as_deref(), args.rxnorm.as_deref())?;
    if let (Some(path), Some(s)) = (&args.rxnorm, engine.rxnorm_relations()) {
        eprintln!(
            "rxguard: {}: {} drug codes resolve to vocabulary ingredients; {} ingredient codes the vocabulary does not declare were ignored ({} drug codes left with none)",
            path.display(),
            s.codes,
            s.unknown_ingredients,
            s.codes_without_known_ingredient
        );
    }
    let as_of = args.as_of.unwrap_or_else(Date::today);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .map_err(|e| e.to_string())?;
    let options = BatchOptions {
        input: match args.input {
            InputArg::Auto => rxguard::engine::InputKind::Auto,
            InputArg::Rxguard => rxguard::engine::InputKind::Own,
            InputArg::Fhir => rxguard::engine::InputKind::Fhir,
        },
        as_of,
        chunk_size: usize::try_from(args.chunk_size).unwrap_or(usize::MAX),
        pool: Some(&pool),
        max_record_bytes: usize::try_from(args.max_record_bytes).unwrap_or(usize::MAX),
    };
    let color =
        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let files = if args.files.is_empty() {
        vec!["-".to_string()]
    } else {
        args.files.clone()
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let style = text::Style { color };
    let format = args.format;
    let render = move |o: &RecordOutcome| render_record(format, style, o);
    let write_err = |e: io::Error| format!("cannot write the report: {e}");
    match format {
        Format::Text => {
            write!(out, "{}", text::header(&engine, as_of, style)).map_err(write_err)?
        }
        Format::Json => write!(
            out,
            "{{\"as_of\":\"{as_of}\",\"packs\":{},\"records\":[",
            serde_json::to_string(engine.packs()).unwrap_or_default()
        )
        .map_err(write_err)?,
        Format::Ndjson | Format::Fhir | Format::CdsHooks => {}
    }
    let mut first = true;
    let mut written = 0usize;
    // Progress on a terminal while the report goes to a file or a pipe.
    let progress = io::stderr().is_terminal() && !io::stdout().is_terminal();
    if let Some(path) = &args.bulk {
        let mut sink = JsonSeparator {
            inner: &mut out,
            json: format == Format::Json,
            first: &mut first,
            written: &mut written,
            progress,
        };
        let bulk = rxguard::bulk::BulkOptions {
            batch: options,
            bucket_bytes: args.bucket_mib.saturating_mul(1 << 20),
            temp_dir: args.temp_dir.clone(),
        };
        check_bulk(&engine, path, &bulk, &render, &mut sink, &mut summary)?;
    }
    for file in files.iter().filter(|_| args.bulk.is_none()) {
        let mut sink = JsonSeparator {
            inner: &mut out,
            json: format == Format::Json,
            first: &mut first,
            written: &mut written,
            progress,
        };
        // A file that cannot be opened is a rejected record: the others are still checked.
        let reader: Box<dyn BufRead + Send> = if file == "-" {
            Box::new(io::BufReader::new(io::stdin()))
        } else {
            match std::fs::File::open(file) {
                Ok(f) => Box::new(io::BufReader::with_capacity(1 << 16, f)),
                Err(e) => {
                    batch::unreadable(file, 0, &e, &render, &mut sink, &mut summary)
                        .map_err(write_err)?;
                    continue;
                }
            }
        };
        batch::run(
            &engine,
            file,
            reader,
            options,
            &render,
            &mut sink,
            &mut summary,
        )
        .map_err(write_err)?;
    }
    for name in &summary.empty_inputs {
        eprintln!("warning: {name} holds no records");
    }
    if progress && written >= 10_000 {
        eprintln!("\r{written} records checked");
    }
    match format {
        Format::Text => write!(out, "{}", text::summary(&summary, style)).map_err(write_err)?,
        Format::Json => writeln!(
            out,
            "],\"summary\":{}}}",
            serde_json::to_string(&summary).unwrap_or_default()
        )
        .map_err(write_err)?,
        Format::Ndjson | Format::Fhir | Format::CdsHooks => {
            eprintln!("{}", serde_json::json!({ "summary": summary }))
        }
    }
    out.flush().map_err(write_err)?;
    Ok(exit_code(&summary, args.fail_on.map(Severity::from)))
}

/// `check --bulk`: an export that cannot be read at all is one rejected record, so the report
/// (a JSON document too) is still whole.
fn check_bulk<W: Write>(
    engine: &Engine,
    path: &std::path::Path,
    options: &rxguard::bulk::BulkOptions<'_>,
    render: batch::Render<'_>,
    out: &mut W,
    summary: &mut Summary,
) -> Result<(), String> {
    use rxguard::bulk::BulkError;
    match rxguard::bulk::run(engine, path, options, render, out, summary) {
        Ok(stats) => {
            for note in &stats.notes {
                eprintln!("note: {note}");
            }
            Ok(())
        }
        Err(e @ (BulkError::Unreadable(_) | BulkError::Manifest(_) | BulkError::Empty(_))) => {
            let outcome = RecordOutcome {
                input: path.display().to_string(),
                line: 0,
                result: Err(rxguard::engine::InputError::Json(e.to_string())),
            };
            summary.add(&outcome);
            out.write_all(render(&outcome).as_bytes())
                .map_err(|e| format!("cannot write the report: {e}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn exit_code(summary: &Summary, fail_on: Option<Severity>) -> ExitCode {
    // An input with no record is not an all-clear: nobody was checked.
    if summary.rejected > 0 || !summary.empty_inputs.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else if fail_on.is_some_and(|limit| summary.worst.is_some_and(|w| w <= limit)) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn render_record(format: Format, style: text::Style, o: &RecordOutcome) -> String {
    match format {
        Format::Text => text::record(o, style),
        Format::Fhir | Format::CdsHooks => {
            let value = match &o.result {
                Ok(report) if format == Format::Fhir => fhir_record(report),
                Ok(report) => cds_hooks_record(report),
                Err(e) if format == Format::CdsHooks => serde_json::json!({
                    "patient": null,
                    "input": o.input,
                    "line": o.line,
                    "error": e.to_string(),
                    "cards": [],
                }),
                Err(e) => serde_json::json!({
                    "resourceType": "OperationOutcome",
                    "issue": [{
                        "severity": "error",
                        "code": "invalid",
                        "diagnostics": format!("{}:{}: {e}", o.input, o.line),
                    }],
                }),
            };
            let mut s = serde_json::to_string(&value).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Json | Format::Ndjson => {
            let record = RecordJson {
                input: &o.input,
                line: o.line,
                report: o.result.as_ref().ok(),
                error: o.result.as_ref().err().map(ToString::to_string),
            };
            let mut s = serde_json::to_string(&record).unwrap_or_default();
            if format == Format::Ndjson {
                s.push('\n');
            }
            s
        }
    }
}

/// A patient's DetectedIssues and, in the same collection, the OperationOutcome of what could
/// not be checked.
fn fhir_record(report: &rxguard::report::PatientReport) -> serde_json::Value {
    let mut bundle = rxguard::fhir::detected_issues(report);
    let outcome = rxguard::fhir::operation_outcome(report);
    let url = format!("urn:uuid:{}", outcome["id"].as_str().unwrap_or_default());
    if let Some(entries) = bundle["entry"].as_array_mut() {
        entries.push(serde_json::json!({"fullUrl": url, "resource": outcome}));
    }
    bundle
}

/// A patient's cards, with the info card of what could not be checked, naming the patient.
fn cds_hooks_record(report: &rxguard::report::PatientReport) -> serde_json::Value {
    let mut answer = rxguard::fhir::cards(report, None);
    if let Some(card) = rxguard::fhir::gap_card(report, Vec::new(), None)
        && let Some(cards) = answer["cards"].as_array_mut()
    {
        cards.push(card);
    }
    answer["patient"] = serde_json::Value::String(report.patient.clone());
    answer
}

/// One record in JSON output: its report, or the reason it was rejected.
#[derive(serde::Serialize)]
struct RecordJson<'a> {
    input: &'a str,
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a rxguard::report::PatientReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Writes records, putting commas between them inside the JSON array, and counts them for the
/// progress line.
struct JsonSeparator<'a, W: Write> {
    inner: &'a mut W,
    json: bool,
    first: &'a mut bool,
    written: &'a mut usize,
    progress: bool,
}

impl<W: Write> Write for JsonSeparator<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.json && !buf.is_empty() {
            if !*self.first {
                self.inner.write_all(b",")?;
            }
            *self.first = false;
        }
        *self.written += 1;
        if self.progress && (*self.written).is_multiple_of(10_000) {
            eprint!("\r{} records checked", *self.written);
        }
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
