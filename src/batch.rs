//! Checking many patients: NDJSON read in chunks of lines, each chunk checked in parallel with
//! rayon, results written in input order. A line that cannot be read becomes a rejected record
//! with its line number and reason; the rest goes on. A file that cannot be read at all (missing,
//! a folder, no permission, failing midway) is one rejected record too, and the run goes on to
//! the next. The summary reconciles: records read = evaluated + skipped (patients not screened:
//! deceased) + rejected, and lists the inputs that held no record and the record ids that repeat
//! an earlier one.

mod read;

pub use read::{DEFAULT_MAX_RECORD_BYTES, Line, read_line, skip_bom, strip_bom};

use crate::date::Date;
use crate::engine::{Engine, InputError};
use crate::eval::Scratch;
use crate::ir::Severity;
use crate::report::PatientReport;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{self, BufRead, Read, Write};

/// How many repeated ids a summary lists by name (all are counted).
const REPEATS_LISTED: usize = 100;

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
    /// Records read but not screened (the patient is deceased).
    pub skipped: usize,
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
    /// Conditions coded only in systems the vocabulary does not read, or text only.
    #[serde(skip_serializing_if = "is_zero")]
    pub unrecognized_conditions: usize,
    /// The most severe finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<Severity>,
    /// Patients with a finding of each rule: who is at risk of what.
    pub by_rule: std::collections::BTreeMap<String, usize>,
    /// Patients with a data gap of each rule: what the records most often lack.
    pub gaps_by_rule: std::collections::BTreeMap<String, usize>,
    /// Inputs that held no record at all: an empty export is a warning, not an all-clear.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub empty_inputs: Vec<String>,
    /// Checked records whose patient id an earlier record of the run already had.
    pub repeated_ids: usize,
    /// The first of them (up to 100), where they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<RepeatedId>,
    /// Hashes of the ids seen (64-bit, so 10^6 ids take a few MB; two different ids sharing a
    /// hash, about one chance in 10^7 at that size, would be listed as a repeat).
    #[serde(skip)]
    seen: HashSet<u64, BuildHasherDefault<crate::fxhash::FxHasher>>,
}

/// A record whose patient id repeats an earlier record's.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RepeatedId {
    /// The patient id.
    pub id: String,
    /// The input of the repeating record.
    pub input: String,
    /// Its line.
    pub line: usize,
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
        if report.not_screened.is_some() {
            self.skipped += 1;
            return;
        }
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
        self.unrecognized_conditions += report.unrecognized_conditions.len();
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
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.patients_with_findings += other.patients_with_findings;
        self.findings.contraindicated += other.findings.contraindicated;
        self.findings.major += other.findings.major;
        self.findings.moderate += other.findings.moderate;
        self.findings.minor += other.findings.minor;
        self.data_gaps += other.data_gaps;
        self.unrecognized += other.unrecognized;
        self.unrecognized_conditions += other.unrecognized_conditions;
        for (rule, n) in &other.by_rule {
            *self.by_rule.entry(rule.clone()).or_default() += n;
        }
        for (rule, n) in &other.gaps_by_rule {
            *self.gaps_by_rule.entry(rule.clone()).or_default() += n;
        }
        self.empty_inputs.extend(other.empty_inputs.iter().cloned());
        self.repeated_ids += other.repeated_ids;
        let room = REPEATS_LISTED.saturating_sub(self.repeats.len());
        self.repeats
            .extend(other.repeats.iter().take(room).cloned());
        self.seen.extend(other.seen.iter().copied());
        self.worst = match (self.worst, other.worst) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Notes the patient id of a checked record, in input order: an id seen before in the run
    /// is counted (and listed) as repeated.
    pub fn note_id(&mut self, id: &str, input: &str, line: usize) {
        let mut h = std::hash::DefaultHasher::new();
        id.hash(&mut h);
        if self.seen.insert(h.finish()) {
            return;
        }
        self.repeated_ids += 1;
        if self.repeats.len() < REPEATS_LISTED {
            self.repeats.push(RepeatedId {
                id: id.to_string(),
                input: input.to_string(),
                line,
            });
        }
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
    /// The longest record line read, in bytes ([`DEFAULT_MAX_RECORD_BYTES`]): a longer one is
    /// rejected with its line number, without being held in memory whole. A file that is one
    /// JSON document (not NDJSON) may not be longer either.
    pub max_record_bytes: usize,
}

/// Why reading one input stopped early.
enum Stop {
    /// The input could not be read: a rejected record, and the run goes on.
    Read(io::Error),
    /// The report could not be written: the run cannot go on.
    Write(io::Error),
}

/// The formatter of one record's output.
pub type Render<'f> = &'f (dyn Fn(&RecordOutcome) -> String + Sync);

/// Checks every record of `input`, calling `format` on each result (in parallel) and writing
/// what it returns to `out` in input order, counting into `summary`. An input that cannot be
/// read (at the start or midway) becomes a rejected record at the line reached; an input with
/// no record is listed in [`Summary::empty_inputs`]. Fails only when writing fails.
pub fn run<R: BufRead + Send, W: Write>(
    engine: &Engine,
    name: &str,
    input: R,
    options: BatchOptions<'_>,
    format: Render<'_>,
    out: &mut W,
    summary: &mut Summary,
) -> io::Result<()> {
    let before = summary.records_read;
    let mut line_no = 0;
    let read = records(
        engine,
        name,
        input,
        options,
        format,
        out,
        summary,
        &mut line_no,
    );
    match read {
        Ok(()) => {}
        Err(Stop::Write(e)) => return Err(e),
        Err(Stop::Read(e)) => unreadable(name, line_no + 1, &e, format, out, summary)?,
    }
    if summary.records_read == before {
        summary.empty_inputs.push(name.to_string());
    }
    Ok(())
}

/// Reports an input that cannot be read from `line` on (0: not opened) as a rejected record.
pub fn unreadable<W: Write>(
    name: &str,
    line: usize,
    error: &io::Error,
    format: Render<'_>,
    out: &mut W,
    summary: &mut Summary,
) -> io::Result<()> {
    let outcome = RecordOutcome {
        input: name.to_string(),
        line,
        result: Err(InputError::Json(format!("cannot read {name}: {error}"))),
    };
    summary.add(&outcome);
    out.write_all(format(&outcome).as_bytes())
}

#[expect(
    clippy::too_many_arguments,
    reason = "the batch's parameters, passed through"
)]
fn records<R: BufRead + Send, W: Write>(
    engine: &Engine,
    name: &str,
    input: R,
    options: BatchOptions<'_>,
    format: Render<'_>,
    out: &mut W,
    summary: &mut Summary,
    line_no: &mut usize,
) -> Result<(), Stop> {
    let limit = options.max_record_bytes;
    let mut input = skip_bom(input).map_err(Stop::Read)?;
    // Up to two non-blank lines tell NDJSON (a whole object on a line) from one JSON document
    // spread over lines (a pretty-printed record, or an array of records).
    let mut head: Vec<RawLine> = Vec::new();
    while head.len() < 2 && !head.first().is_some_and(|l| object_line(&l.bytes)) {
        let mut line = RawLine::default();
        if !line.read(&mut input, limit, line_no).map_err(Stop::Read)? {
            break;
        }
        if line.too_long.is_some() || !line.bytes.trim_ascii().is_empty() {
            head.push(line);
        }
    }
    let Some(first) = head.first() else {
        return Ok(());
    };
    let ndjson = first.too_long.is_some()
        || object_line(&first.bytes)
        || head.get(1).is_some_and(|l| object_line(&l.bytes))
        || {
            let t = first.bytes.trim_ascii();
            t.len() > 2 && t.starts_with(b"{") && t.ends_with(b"}")
        };
    if !ndjson {
        let first_line = first.no;
        let too_long = head.iter().any(|l| l.too_long.is_some());
        let mut text: Vec<u8> = head.into_iter().flat_map(|l| l.bytes).collect();
        if !too_long {
            let room = (limit + 1).saturating_sub(text.len()) as u64;
            input
                .by_ref()
                .take(room)
                .read_to_end(&mut text)
                .map_err(Stop::Read)?;
        }
        if too_long || text.len() > limit {
            let outcome = RecordOutcome {
                input: name.to_string(),
                line: first_line,
                result: Err(InputError::Json(format!(
                    "the document is longer than the limit of {limit} bytes: give large inputs as NDJSON, one record a line"
                ))),
            };
            summary.add(&outcome);
            return out
                .write_all(format(&outcome).as_bytes())
                .map_err(Stop::Write);
        }
        return document(
            engine, name, first_line, &text, options, format, out, summary,
        )
        .map_err(Stop::Write);
    }
    let size = options.chunk_size.max(1);
    let used = head.len();
    let mut current = Chunk { lines: head, used };
    current
        .fill(&mut input, size, limit, line_no)
        .map_err(Stop::Read)?;
    let mut next = Chunk::default();
    while current.used > 0 {
        // Read the next chunk while this one is checked.
        next.used = 0;
        let mut work = || {
            rayon::join(
                || next.fill(&mut input, size, limit, line_no),
                || {
                    check_chunk(
                        engine,
                        name,
                        &current.lines[..current.used],
                        options,
                        format,
                    )
                },
            )
        };
        let (read, results) = match options.pool {
            Some(pool) => pool.install(work),
            None => work(),
        };
        for checked in &results {
            summary.merge(&checked.counted);
            if let Some(id) = &checked.patient {
                summary.note_id(id, name, checked.line);
            }
            out.write_all(checked.text.as_bytes())
                .map_err(Stop::Write)?;
        }
        read.map_err(Stop::Read)?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok(())
}

/// One input line, with its number; a line over the limit is kept as its length only.
#[derive(Default)]
struct RawLine {
    no: usize,
    bytes: Vec<u8>,
    too_long: Option<u64>,
}

impl RawLine {
    /// Reads the next line into this one (its buffer reused); false at the end of the input.
    fn read(
        &mut self,
        input: &mut impl BufRead,
        limit: usize,
        line_no: &mut usize,
    ) -> io::Result<bool> {
        let got = read_line(input, &mut self.bytes, limit)?;
        if got == Line::End {
            return Ok(false);
        }
        *line_no += 1;
        self.no = *line_no;
        self.too_long = match got {
            Line::TooLong(n) => Some(n),
            _ => None,
        };
        Ok(true)
    }
}

/// Lines of one chunk, with their line numbers. Buffers are kept from one chunk to the next,
/// so reading allocates only while the longest line grows.
#[derive(Default)]
struct Chunk {
    lines: Vec<RawLine>,
    used: usize,
}

impl Chunk {
    /// Reads non-blank lines after those it holds until it holds `size` (or the input ends).
    fn fill(
        &mut self,
        input: &mut impl BufRead,
        size: usize,
        limit: usize,
        line_no: &mut usize,
    ) -> io::Result<()> {
        while self.used < size {
            if self.used == self.lines.len() {
                self.lines.push(RawLine::default());
            }
            let line = &mut self.lines[self.used];
            if !line.read(input, limit, line_no)? {
                break;
            }
            if line.too_long.is_some() || !line.bytes.trim_ascii().is_empty() {
                self.used += 1;
            }
        }
        Ok(())
    }
}

/// One record checked and formatted.
struct Checked {
    text: String,
    counted: Summary,
    patient: Option<String>,
    line: usize,
}

/// Checks and formats one chunk in parallel, keeping input order.
fn check_chunk(
    engine: &Engine,
    name: &str,
    lines: &[RawLine],
    options: BatchOptions<'_>,
    format: Render<'_>,
) -> Vec<Checked> {
    lines
        .par_iter()
        .map(|line| {
            crate::engine::with_scratch(|scratch| {
                let result = match (line.too_long, std::str::from_utf8(&line.bytes)) {
                    (Some(n), _) => Err(too_long(n, options.max_record_bytes)),
                    (None, Ok(text)) => engine
                        .check_record(scratch, text.trim_end(), options.as_of, options.input)
                        .map_err(on_one_line),
                    (None, Err(e)) => Err(not_utf8(&e)),
                };
                let outcome = RecordOutcome {
                    input: name.to_string(),
                    line: line.no,
                    result,
                };
                let mut counted = Summary::default();
                counted.add(&outcome);
                Checked {
                    text: format(&outcome),
                    counted,
                    patient: outcome.result.ok().map(|r| r.patient),
                    line: line.no,
                }
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

/// A record line over the limit, passed over unread.
pub fn too_long(bytes: u64, limit: usize) -> InputError {
    InputError::Json(format!(
        "the record's line is {bytes} bytes, over the limit of {limit} bytes: it was skipped unread"
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
    format: Render<'_>,
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
        if let Ok(report) = &outcome.result {
            summary.note_id(&report.patient, name, line);
        }
        out.write_all(format(&outcome).as_bytes())?;
    }
    Ok(())
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
