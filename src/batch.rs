//! Checking many patients: NDJSON read in chunks of lines, each chunk checked in parallel with
//! rayon, results written in input order. A line that cannot be read becomes a rejected record
//! with its line number and reason; the rest goes on. The summary reconciles:
//! records read = evaluated + rejected.

use crate::date::Date;
use crate::engine::{Engine, InputError};
use crate::eval::Scratch;
use crate::ir::Severity;
use crate::report::PatientReport;
use rayon::prelude::*;
use serde::Serialize;
use std::io::{self, BufRead, Write};

/// One input record's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOutcome {
    /// The input's name (`-` for standard input).
    pub input: String,
    /// One-based line of the record (the first line of a multi-line document).
    pub line: usize,
    /// The report, or why the record was rejected.
    pub result: Result<PatientReport, InputError>,
}

/// Counts over a batch.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Records read.
    pub records_read: usize,
    /// Records checked.
    pub evaluated: usize,
    /// Records that could not be read.
    pub rejected: usize,
    /// Patients with at least one finding.
    pub patients_with_findings: usize,
    /// Findings by severity.
    pub findings: SeverityCounts,
    /// Data gaps.
    pub data_gaps: usize,
    /// Unrecognized medication entries.
    pub unrecognized: usize,
    /// The most severe finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<Severity>,
    /// Patients with a finding of each rule: who is at risk of what.
    pub by_rule: std::collections::BTreeMap<String, usize>,
    /// Patients with a data gap of each rule: what the records most often lack.
    pub gaps_by_rule: std::collections::BTreeMap<String, usize>,
}

/// Findings per severity.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SeverityCounts {
    /// Contraindicated.
    pub contraindicated: usize,
    /// Major.
    pub major: usize,
    /// Moderate.
    pub moderate: usize,
    /// Minor.
    pub minor: usize,
}

impl Summary {
    /// Adds one record.
    pub fn add(&mut self, outcome: &RecordOutcome) {
        self.records_read += 1;
        let Ok(report) = &outcome.result else {
            self.rejected += 1;
            return;
        };
        self.evaluated += 1;
        self.patients_with_findings += usize::from(!report.findings.is_empty());
        for f in &report.findings {
            *match f.severity {
                Severity::Contraindicated => &mut self.findings.contraindicated,
                Severity::Major => &mut self.findings.major,
                Severity::Moderate => &mut self.findings.moderate,
                Severity::Minor => &mut self.findings.minor,
            } += 1;
        }
        self.data_gaps += report.data_gaps.len();
        self.unrecognized += report.unrecognized.len();
        for f in &report.findings {
            *self.by_rule.entry(f.rule.clone()).or_default() += 1;
        }
        for g in &report.data_gaps {
            *self.gaps_by_rule.entry(g.rule.clone()).or_default() += 1;
        }
        self.worst = match (self.worst, report.worst()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Adds another summary's counts.
    pub fn merge(&mut self, other: &Summary) {
        self.records_read += other.records_read;
        self.evaluated += other.evaluated;
        self.rejected += other.rejected;
        self.patients_with_findings += other.patients_with_findings;
        self.findings.contraindicated += other.findings.contraindicated;
        self.findings.major += other.findings.major;
        self.findings.moderate += other.findings.moderate;
        self.findings.minor += other.findings.minor;
        self.data_gaps += other.data_gaps;
        self.unrecognized += other.unrecognized;
        for (rule, n) in &other.by_rule {
            *self.by_rule.entry(rule.clone()).or_default() += n;
        }
        for (rule, n) in &other.gaps_by_rule {
            *self.gaps_by_rule.entry(rule.clone()).or_default() += n;
        }
        self.worst = match (self.worst, other.worst) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Total findings.
    pub fn total_findings(&self) -> usize {
        let c = &self.findings;
        c.contraindicated + c.major + c.moderate + c.minor
    }
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions<'p> {
    /// The evaluation date.
    pub as_of: Date,
    /// The format of the records.
    pub input: crate::engine::InputKind,
    /// Lines read and checked at a time (at least 1).
    pub chunk_size: usize,
    /// The thread pool to check in; `None` uses rayon's global pool (a library never
    /// configures that pool itself).
    pub pool: Option<&'p rayon::ThreadPool>,
}

/// Checks every record of `input`, calling `format` on each result (in parallel) and writing
/// what it returns to `out` in input order. Returns the summary.
pub fn run<R: BufRead + Send, W: Write>(
    engine: &Engine,
    name: &str,
    mut input: R,
    options: BatchOptions<'_>,
    format: &(dyn Fn(&RecordOutcome) -> String + Sync),
    out: &mut W,
    summary: &mut Summary,
) -> io::Result<()> {
    let mut line_no = 0;
    // Up to two non-blank lines tell NDJSON (a whole object on a line) from one JSON document
    // spread over lines (a pretty-printed record, or an array of records).
    let mut head: Vec<(usize, Vec<u8>)> = Vec::new();
    while head.len() < 2 && !head.first().is_some_and(|(_, l)| object_line(l)) {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_no += 1;
        if !line.trim_ascii().is_empty() {
            head.push((line_no, line));
        }
    }
    let Some((first_line, first)) = head.first() else {
        return Ok(());
    };
    let ndjson = object_line(first) || head.get(1).is_some_and(|(_, l)| object_line(l)) || {
        let t = first.trim_ascii();
        t.len() > 2 && t.starts_with(b"{") && t.ends_with(b"}")
    };
    if !ndjson {
        let first_line = *first_line;
        let mut text: Vec<u8> = head.into_iter().flat_map(|(_, l)| l).collect();
        input.read_to_end(&mut text)?;
        return document(
            engine, name, first_line, &text, options, format, out, summary,
        );
    }
    let size = options.chunk_size.max(1);
    let used = head.len();
    let mut current = Chunk { lines: head, used };
    current.fill(&mut input, size, &mut line_no)?;
    let mut next = Chunk::default();
    while current.used > 0 {
        // Read the next chunk while this one is checked.
        next.used = 0;
        let mut work = || {
            rayon::join(
                || next.fill(&mut input, size, &mut line_no),
                || {
                    check_chunk(
                        engine,
                        name,
                        &current.lines[..current.used],
                        options.as_of,
                        options.input,
                        format,
                    )
                },
            )
        };
        let (read, results) = match options.pool {
            Some(pool) => pool.install(work),
            None => work(),
        };
        for (text, counted) in &results {
            summary.merge(counted);
            out.write_all(text.as_bytes())?;
        }
        read?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(())
}

/// Lines of one chunk, with their line numbers. Buffers are kept from one chunk to the next,
/// so reading allocates only while the longest line grows.
#[derive(Default)]
struct Chunk {
    lines: Vec<(usize, Vec<u8>)>,
    used: usize,
}

impl Chunk {
    /// Reads non-blank lines after those it holds until it holds `size` (or the input ends).
    fn fill(
        &mut self,
        input: &mut impl BufRead,
        size: usize,
        line_no: &mut usize,
    ) -> io::Result<()> {
        while self.used < size {
            if self.used == self.lines.len() {
                self.lines.push((0, Vec::new()));
            }
            let (no, line) = &mut self.lines[self.used];
            line.clear();
            if input.read_until(b'\n', line)? == 0 {
                break;
            }
            *line_no += 1;
            *no = *line_no;
            if !line.trim_ascii().is_empty() {
                self.used += 1;
            }
        }
        Ok(())
    }
}

/// Checks and formats one chunk in parallel, keeping input order.
fn check_chunk(
    engine: &Engine,
    name: &str,
    lines: &[(usize, Vec<u8>)],
    as_of: Date,
    input: crate::engine::InputKind,
    format: &(dyn Fn(&RecordOutcome) -> String + Sync),
) -> Vec<(String, Summary)> {
    lines
        .par_iter()
        .map(|(line, text)| {
            crate::engine::with_scratch(|scratch| {
                let outcome = RecordOutcome {
                    input: name.to_string(),
                    line: *line,
                    result: match std::str::from_utf8(text) {
                        Ok(text) => engine
                            .check_record(scratch, text.trim_end(), as_of, input)
                            .map_err(on_one_line),
                        Err(e) => Err(not_utf8(&e)),
                    },
                };
                let mut counted = Summary::default();
                counted.add(&outcome);
                (format(&outcome), counted)
            })
        })
        .collect()
}

/// A line that holds one whole JSON object.
fn object_line(line: &[u8]) -> bool {
    line.trim_ascii().starts_with(b"{")
        && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// A record on one line: serde's "at line 1 column N" is just "at column N" of that line.
fn on_one_line(e: InputError) -> InputError {
    match e {
        InputError::Json(m) => InputError::Json(m.replace(" at line 1 column ", " at column ")),
        other => other,
    }
}

fn not_utf8(e: &std::str::Utf8Error) -> InputError {
    InputError::Json(format!(
        "the record is not valid UTF-8 (at byte {})",
        e.valid_up_to()
    ))
}

/// A whole file that is one JSON document: a patient, or an array of patients.
#[expect(
    clippy::too_many_arguments,
    reason = "the batch's parameters, passed through"
)]
fn document<W: Write>(
    engine: &Engine,
    name: &str,
    line: usize,
    bytes: &[u8],
    options: BatchOptions<'_>,
    format: &(dyn Fn(&RecordOutcome) -> String + Sync),
    out: &mut W,
    summary: &mut Summary,
) -> io::Result<()> {
    let mut scratch = Scratch::default();
    let records: Vec<(usize, Result<PatientReport, InputError>)> = match std::str::from_utf8(bytes)
    {
        Err(e) => vec![(line, Err(not_utf8(&e)))],
        Ok(text) => match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) {
            // An array of records: each is reported at the line it starts on.
            Ok(items) => items
                .iter()
                .map(|raw| {
                    let offset =
                        (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
                    let at = line + text.get(..offset).map_or(0, |t| t.matches('\n').count());
                    (
                        at,
                        engine.check_record(&mut scratch, raw.get(), options.as_of, options.input),
                    )
                })
                .collect(),
            Err(_) => vec![(
                line,
                engine.check_record(&mut scratch, text, options.as_of, options.input),
            )],
        },
    };
    for (line, result) in records {
        let outcome = RecordOutcome {
            input: name.to_string(),
            line,
            result,
        };
        summary.add(&outcome);
        out.write_all(format(&outcome).as_bytes())?;
    }
    Ok(())
}
