//! Criterion benchmarks for rxguard: single-patient latency, batch throughput, parsing versus
//! checking, compile time, how compile and check scale with the number of rules, and how one
//! check scales with the length of a record (renewals of one order).
//!
//! Run everything with `cargo bench --bench engine`, one group with
//! `cargo bench --bench engine -- batch`. See `benches/README.md`.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use rayon::prelude::*;
use rxguard::Engine;
use rxguard::batch::{self, BatchOptions, RecordOutcome, Summary};
use rxguard::date::Date;
use rxguard::eval::Scratch;
use rxguard::patient::Patient;
use std::cell::OnceCell;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io;
use std::time::Duration;

/// The seed of every generated population.
const SEED: u64 = 42;
/// Patients in the batch benchmark.
const BATCH_PATIENTS: u64 = 100_000;
/// Patients in the parse-versus-check benchmark.
const PARSE_PATIENTS: u64 = 20_000;
/// Medications of the single patient.
const SINGLE_MEDS: usize = 12;
/// Rule counts of the scaling benchmark.
const RULE_COUNTS: [usize; 4] = [10, 100, 1_000, 10_000];

fn as_of() -> Date {
    Date::parse(rxguard::synth::AS_OF).expect("synth::AS_OF is a valid date")
}

fn bundled() -> Engine {
    Engine::bundled()
        .unwrap_or_else(|d| panic!("bundled packs do not compile:\n{}", d.render_plain()))
}

/// `n` generated patients as NDJSON (one line each, newline-terminated), and their lines.
fn ndjson(n: u64) -> (String, Vec<String>) {
    let lines: Vec<String> = rxguard::synth::ndjson(n, SEED).collect();
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    (text, lines)
}

/// The first generated patient with exactly [`SINGLE_MEDS`] medications, conditions and labs
/// provided, and at least one finding against the bundled packs: a realistic, non-trivial record.
fn twelve_medication_patient(engine: &Engine) -> String {
    let mut generator = rxguard::synth::Generator::new(SEED);
    let mut scratch = Scratch::default();
    for index in 0..100_000 {
        let line = generator.patient(index);
        let patient: Patient<'_> = serde_json::from_str(&line).expect("generated patients parse");
        let meds = patient.medications.as_ref().map_or(0, Vec::len);
        if meds != SINGLE_MEDS || patient.conditions.is_none() || patient.labs.is_none() {
            continue;
        }
        let report = engine
            .check_with(&mut scratch, &patient, as_of())
            .expect("generated patients check");
        if !report.findings.is_empty() {
            return line;
        }
    }
    panic!("no generated patient with {SINGLE_MEDS} medications and a finding");
}

/// NDJSON formatting as the CLI does it: one serialized report per line.
fn ndjson_line(outcome: &RecordOutcome) -> String {
    let mut s = match &outcome.result {
        Ok(report) => serde_json::to_string(report).expect("reports serialize"),
        Err(e) => serde_json::json!({ "line": outcome.line, "error": e.to_string() }).to_string(),
    };
    s.push('\n');
    s
}

/// No output: isolates checking inside `batch::run`.
fn no_output(_: &RecordOutcome) -> String {
    String::new()
}

// ---------------------------------------------------------------------------------------------
// 1. single_patient
// ---------------------------------------------------------------------------------------------

fn single_patient(c: &mut Criterion) {
    let engine = bundled();
    let line = twelve_medication_patient(&engine);
    let as_of = as_of();
    let patient: Patient<'_> = serde_json::from_str(&line).expect("patient parses");
    let report = engine
        .check_with(&mut Scratch::default(), &patient, as_of)
        .expect("checks");
    eprintln!(
        "single_patient: {} ({} bytes, {SINGLE_MEDS} medications): {} findings, {} data gaps",
        patient.id,
        line.len(),
        report.findings.len(),
        report.data_gaps.len()
    );

    let mut group = c.benchmark_group("single_patient");
    group.throughput(Throughput::Elements(1));
    group.bench_function("check_json", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            engine
                .check_json(&mut scratch, black_box(&line), as_of)
                .expect("checks")
        });
    });
    group.bench_function("check_with", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            engine
                .check_with(&mut scratch, black_box(&patient), as_of)
                .expect("checks")
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. batch
// ---------------------------------------------------------------------------------------------

fn batch(c: &mut Criterion) {
    let engine = bundled();
    let (text, lines) = ndjson(BATCH_PATIENTS);
    drop(lines);
    let options = BatchOptions {
        input: rxguard::engine::InputKind::Auto,
        as_of: as_of(),
        chunk_size: 1024,
        pool: None,
        max_record_bytes: batch::DEFAULT_MAX_RECORD_BYTES,
    };

    let mut group = c.benchmark_group("batch");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(40));
    group.throughput(Throughput::ElementsAndBytes {
        elements: BATCH_PATIENTS,
        bytes: text.len() as u64,
    });
    group.bench_function(BenchmarkId::new("ndjson_to_sink", BATCH_PATIENTS), |b| {
        b.iter(|| {
            let summary = run_batch(&engine, &text, options, &ndjson_line);
            assert_eq!(summary.records_read as u64, BATCH_PATIENTS);
            summary
        });
    });
    group.finish();
}

/// One `batch::run` over in-memory NDJSON into a sink.
fn run_batch(
    engine: &Engine,
    text: &str,
    options: BatchOptions<'_>,
    format: &(dyn Fn(&RecordOutcome) -> String + Sync),
) -> Summary {
    let mut summary = Summary::default();
    batch::run(
        engine,
        "bench",
        text.as_bytes(),
        options,
        format,
        &mut io::sink(),
        &mut summary,
    )
    .expect("batch runs");
    summary
}

// ---------------------------------------------------------------------------------------------
// 3. parse_only versus check
// ---------------------------------------------------------------------------------------------

fn parse_vs_check(c: &mut Criterion) {
    let engine = bundled();
    let as_of = as_of();
    let (text, lines) = ndjson(PARSE_PATIENTS);
    let bytes = text.len() as u64;

    // One group, so that the bytes/second of parsing and of checking sit side by side.
    let mut group = c.benchmark_group("parse_vs_check");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::ElementsAndBytes {
        elements: PARSE_PATIENTS,
        bytes,
    });
    group.bench_function("parse_only/single_thread", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_str::<Patient<'_>>(black_box(line)).expect("parses"));
            }
        });
    });
    group.bench_function("parse_only/par_iter", |b| {
        b.iter(|| {
            lines.par_iter().for_each(|line| {
                black_box(serde_json::from_str::<Patient<'_>>(black_box(line)).expect("parses"));
            });
        });
    });
    group.bench_function("check/single_thread", |b| {
        let mut scratch = Scratch::default();
        b.iter(|| {
            for line in &lines {
                black_box(
                    engine
                        .check_json(&mut scratch, black_box(line), as_of)
                        .expect("checks"),
                );
            }
        });
    });
    group.bench_function("check/par_iter", |b| {
        b.iter(|| {
            lines
                .par_iter()
                .for_each_init(Scratch::default, |scratch, line| {
                    black_box(
                        engine
                            .check_json(scratch, black_box(line), as_of)
                            .expect("checks"),
                    );
                });
        });
    });
    group.bench_function("check/run_global_pool", |b| {
        let options = BatchOptions {
            input: rxguard::engine::InputKind::Auto,
            as_of,
            chunk_size: 1024,
            pool: None,
            max_record_bytes: batch::DEFAULT_MAX_RECORD_BYTES,
        };
        b.iter(|| {
            let summary = run_batch(&engine, &text, options, &no_output);
            assert_eq!(summary.evaluated as u64, PARSE_PATIENTS);
            summary
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 4. compile
// ---------------------------------------------------------------------------------------------

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    group.bench_function("bundled", |b| b.iter(bundled));
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// 5. scaling
// ---------------------------------------------------------------------------------------------

/// Names declared in the bundled vocabulary pack.
struct Vocabulary {
    text: &'static str,
    drugs: Vec<&'static str>,
    classes: Vec<&'static str>,
    conditions: Vec<&'static str>,
}

impl Vocabulary {
    fn bundled() -> Vocabulary {
        let (_, text) = rxguard::bundled::PACKS
            .iter()
            .find(|(name, _)| name.ends_with("vocabulary.rules"))
            .expect("a bundled vocabulary pack");
        let declared = |keyword: &str| -> Vec<&'static str> {
            text.lines()
                .filter_map(|l| l.strip_prefix(keyword)?.strip_prefix(' '))
                .filter_map(|rest| {
                    rest.split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .next()
                })
                .filter(|name| !name.is_empty())
                .collect()
        };
        let v = Vocabulary {
            text,
            drugs: declared("drug"),
            classes: declared("class"),
            conditions: declared("condition"),
        };
        assert!(
            v.drugs.len() > 10 && v.classes.len() > 5 && !v.conditions.is_empty(),
            "vocabulary names not found"
        );
        v
    }
}

/// A small deterministic generator (SplitMix64) for picking names and thresholds.
struct Pick(u64);

impl Pick {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn of<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Synthetic rules per pack: a pack is limited to 1 MiB of text (E002), about 4,000 of these rules.
const RULES_PER_PACK: usize = 1_000;

/// Pack `k` of synthetic rules: `r_{first} ... r_{first + n - 1}` over the vocabulary's drugs,
/// classes, conditions and labs, cycling through eight shapes of `when`.
fn synthetic_pack(k: usize, first: usize, n: usize, v: &Vocabulary) -> String {
    const SEVERITIES: [&str; 4] = ["contraindicated", "major", "moderate", "minor"];
    let mut p = Pick(first as u64);
    let mut out = String::with_capacity(n * 300 + 100);
    let _ = write!(
        out,
        "pack synthetic_{k} \"Synthetic benchmark rules {k}\" version \"1.0.0\"\nuse vocabulary\n\n"
    );
    for i in first..first + n {
        let drug_or_class = |p: &mut Pick| {
            if p.below(3) == 0 {
                p.of(&v.classes)
            } else {
                p.of(&v.drugs)
            }
        };
        let x = drug_or_class(&mut p);
        let y = drug_or_class(&mut p);
        let class = p.of(&v.classes);
        let (when, message, unless) = match i % 8 {
            0 => (
                format!("taking({x}) and taking({y})"),
                format!("{{drugs({x})}} with {{drugs({y})}}."),
                false,
            ),
            1 => (
                format!("count({class}) >= {}", p.range(2, 4)),
                format!("{{count({class})}} of {class}: {{drugs({class})}}."),
                false,
            ),
            2 => (
                format!("age >= {} and taking({x})", p.range(50, 85)),
                format!("{{drugs({x})}} at age {{age}}."),
                true,
            ),
            3 => (
                format!(
                    "lab(egfr) < {} mL/min/1.73m2 and taking({x})",
                    p.range(15, 90)
                ),
                format!("{{drugs({x})}} with eGFR {{lab(egfr)}}."),
                false,
            ),
            4 => (
                format!("taking({class}) and not taking({x})"),
                format!("{{drugs({class})}} without {x}."),
                false,
            ),
            5 => (
                format!("has({}) and taking({x})", p.of(&v.conditions)),
                format!("{{drugs({x})}} with the condition."),
                true,
            ),
            6 => (
                format!(
                    "lab(crcl) < {} mL/min and count({class}) >= 1",
                    p.range(20, 80)
                ),
                format!("{{drugs({class})}} with creatinine clearance {{lab(crcl)}}."),
                false,
            ),
            _ => (
                format!(
                    "(taking({x}) or taking({y})) and age >= {}",
                    p.range(40, 90)
                ),
                format!("{{drugs({x})}} {{drugs({y})}} at age {{age}}."),
                true,
            ),
        };
        let _ = writeln!(out, "rule r_{i} {{");
        let _ = writeln!(out, "  severity {}", SEVERITIES[i % 4]);
        let _ = writeln!(out, "  when     {when}");
        if unless {
            out.push_str("  unless   has(end_of_life_care)\n");
        }
        let _ = writeln!(out, "  summary  \"Synthetic rule {i}\"");
        let _ = writeln!(out, "  message  \"{message}\"");
        let _ = writeln!(out, "  cite     \"Synthetic benchmark source {i}\"");
        out.push_str("}\n\n");
    }
    out
}

/// The bundled vocabulary and `n` synthetic rules `r_0 ... r_{n-1}`, in packs of at most
/// [`RULES_PER_PACK`] rules.
fn scaling_sources(n: usize, v: &Vocabulary) -> Vec<(String, String)> {
    let mut sources = vec![("rules/vocabulary.rules".to_string(), v.text.to_string())];
    for (k, first) in (0..n).step_by(RULES_PER_PACK).enumerate() {
        let count = RULES_PER_PACK.min(n - first);
        sources.push((
            format!("synthetic_{k}.rules"),
            synthetic_pack(k, first, count, v),
        ));
    }
    sources
}

fn compile_sources(sources: Vec<(String, String)>) -> Engine {
    Engine::from_sources(sources)
        .unwrap_or_else(|d| panic!("synthetic pack does not compile:\n{}", d.render_plain()))
}

fn scaling(c: &mut Criterion) {
    let v = Vocabulary::bundled();
    let line = twelve_medication_patient(&bundled());
    let as_of = as_of();

    let mut group = c.benchmark_group("scaling/compile");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    for n in RULE_COUNTS {
        let sources = scaling_sources(n, &v);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &sources, |b, sources| {
            b.iter_batched(|| sources.clone(), compile_sources, BatchSize::PerIteration);
        });
    }
    group.finish();

    let mut group = c.benchmark_group("scaling/check");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for n in RULE_COUNTS {
        // Compiled on first use, so that filtering out a size skips its compilation.
        let engine = OnceCell::new();
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            let engine = engine.get_or_init(|| {
                let engine = compile_sources(scaling_sources(n, &v));
                let report = engine
                    .check_json(&mut Scratch::default(), &line, as_of)
                    .expect("checks");
                eprintln!(
                    "scaling: {n} rules: the patient has {} findings, {} data gaps",
                    report.findings.len(),
                    report.data_gaps.len()
                );
                engine
            });
            let mut scratch = Scratch::default();
            b.iter(|| {
                engine
                    .check_json(&mut scratch, black_box(&line), as_of)
                    .expect("checks")
            });
        });
    }
    group.finish();
}

/// One patient whose record holds `n` renewals of one order, as a long history exports them:
/// the merging of duplicate therapies and the daily-dose sums must stay linear in `n`.
fn renewals_patient(n: usize) -> String {
    let entry = |i: usize| {
        format!(
            r#"{{"id": "m{i}", "text": "Baclofen 10 mg tablet", "dose": {{"value": 10, "unit": "mg"}}, "frequency": "tid", "route": "oral", "status": "active", "start": "2026-10-01", "source": "request"}}"#
        )
    };
    let meds: Vec<String> = (0..n).map(entry).collect();
    format!(
        r#"{{"id": "renewals-{n}", "age": 70, "conditions": [], "labs": [], "medications": [{}]}}"#,
        meds.join(",")
    )
}

fn medications_scaling(c: &mut Criterion) {
    let engine = bundled();
    let as_of = as_of();
    let mut group = c.benchmark_group("scaling/medications");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5));
    for n in [1_000, 10_000, 50_000] {
        let line = renewals_patient(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &line, |b, line| {
            let mut scratch = Scratch::default();
            b.iter(|| {
                engine
                    .check_json(&mut scratch, black_box(line), as_of)
                    .expect("checks")
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    single_patient,
    batch,
    parse_vs_check,
    compile,
    scaling,
    medications_scaling
);
criterion_main!(benches);
