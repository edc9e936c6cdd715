//! Running the tests written in packs: each test's patient is checked by the engine exactly as
//! real input would be, and every expectation is compared with the report.

use crate::diagnostic::{SourceMap, Span};
use crate::engine::Engine;
use crate::ir::{Expect, Expectation, Program, TestCase};
use crate::report::PatientReport;
use rayon::prelude::*;

/// The result of one test.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// The pack it is written in.
    pub pack: String,
    /// The `test` block.
    pub span: Span,
    /// What did not hold; empty when the test passed.
    pub failures: Vec<Failure>,
}

impl TestOutcome {
    /// True when every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// One expectation that did not hold.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The `expect` line (or the medication) concerned.
    pub span: Span,
    /// What the test expected.
    pub expected: String,
    /// What was found instead.
    pub found: String,
}

/// Runs every test of the engine's packs, in load order.
pub fn run(engine: &Engine) -> Vec<TestOutcome> {
    let program = &engine.graph().program;
    program
        .tests
        .par_iter()
        .map(|test| run_one(engine, program, test))
        .collect()
}

/// Renders failures for a person: `file:line:col`, the line as written, what was found.
pub fn render_failures(outcome: &TestOutcome, sources: &SourceMap) -> String {
    let mut out = format!(
        "FAIL {}: test \"{}\"\n",
        sources.position(outcome.span),
        outcome.name
    );
    for f in &outcome.failures {
        out.push_str(&format!(
            "  {}: {}\n    expected {}\n    found    {}\n",
            sources.position(f.span),
            sources.text_of(f.span).lines().next().unwrap_or("").trim(),
            f.expected,
            f.found
        ));
    }
    out
}

fn run_one(engine: &Engine, program: &Program, test: &TestCase) -> TestOutcome {
    let pack = program.packs[test.pack].name.clone();
    let failures = match engine.check(&test.patient, test.as_of) {
        Ok(report) => judge(program, test, &report),
        Err(e) => vec![Failure {
            span: test.span,
            expected: "a patient the engine can read".into(),
            found: e.to_string(),
        }],
    };
    TestOutcome {
        name: test.name.clone(),
        pack,
        span: test.span,
        failures,
    }
}

/// What happened to one rule for the patient.
enum Fate<'r> {
    Fired(&'r crate::report::Finding),
    Gap(&'r crate::report::DataGap),
    Superseded(&'r str),
    Decided,
}

fn fate<'r>(report: &'r PatientReport, rule: &str) -> Fate<'r> {
    if let Some(f) = report.findings.iter().find(|f| f.rule == rule) {
        return Fate::Fired(f);
    }
    if let Some(g) = report.data_gaps.iter().find(|g| g.rule == rule) {
        return Fate::Gap(g);
    }
    if let Some(s) = report.superseded.iter().find(|s| s.rule == rule) {
        return Fate::Superseded(&s.by);
    }
    Fate::Decided
}

fn describe(fate: &Fate<'_>) -> String {
    match fate {
        Fate::Fired(f) => format!("it fired ({}): {}", f.severity.name(), f.message),
        Fate::Gap(g) => format!("a data gap: {}", g.reasons.join("; ")),
        Fate::Superseded(by) => format!("it was superseded by `{by}`"),
        Fate::Decided => "it did not fire (its condition was decided false)".into(),
    }
}

fn judge(program: &Program, test: &TestCase, report: &PatientReport) -> Vec<Failure> {
    let mut failures: Vec<Failure> = test
        .expects
        .iter()
        .filter_map(|e| expectation(program, e, report))
        .collect();
    // A medication the resolver does not know is a test that proves nothing about it, unless
    // that is what the test says.
    for (entry, span) in test
        .patient
        .medications
        .iter()
        .flatten()
        .zip(&test.medication_spans)
    {
        let unrecognized = report
            .unrecognized
            .iter()
            .any(|u| u.entry.text == entry.text);
        let expected = test
            .expects
            .iter()
            .any(|e| matches!(&e.kind, Expect::Unrecognized(t) if *t == entry.text));
        if unrecognized && !expected {
            failures.push(Failure {
                span: *span,
                expected: "every medication of a test patient to be recognized".into(),
                found: format!(
                    "\"{}\" was not identified as any ingredient (write it as a prescription would, or `expect unrecognized \"{}\"`)",
                    entry.text, entry.text
                ),
            });
        }
    }
    failures
}

fn expectation(program: &Program, e: &Expectation, report: &PatientReport) -> Option<Failure> {
    let fail = |expected: String, found: String| {
        Some(Failure {
            span: e.span,
            expected,
            found,
        })
    };
    match &e.kind {
        Expect::Fires {
            rule,
            severity,
            contains,
        } => {
            let name = &program.rules[*rule].name;
            let fate = fate(report, name);
            let Fate::Fired(finding) = fate else {
                return fail(format!("`{name}` to fire"), describe(&fate));
            };
            if let Some(s) = severity
                && finding.severity != *s
            {
                return fail(
                    format!("`{name}` to fire as {}", s.name()),
                    format!("it fired as {}", finding.severity.name()),
                );
            }
            if let Some(missing) = contains
                .iter()
                .find(|t| !finding.message.contains(t.as_str()))
            {
                return fail(
                    format!("the message of `{name}` to contain \"{missing}\""),
                    format!("the message was: {}", finding.message),
                );
            }
            None
        }
        Expect::No(rule) => {
            let name = &program.rules[*rule].name;
            match fate(report, name) {
                Fate::Decided => None,
                other => fail(
                    format!("`{name}` not to fire (decided false)"),
                    describe(&other),
                ),
            }
        }
        Expect::Gap(rule) => {
            let name = &program.rules[*rule].name;
            match fate(report, name) {
                Fate::Gap(_) => None,
                other => fail(format!("`{name}` to be a data gap"), describe(&other)),
            }
        }
        Expect::Superseded(rule) => {
            let name = &program.rules[*rule].name;
            match fate(report, name) {
                Fate::Superseded(_) => None,
                other => fail(format!("`{name}` to be superseded"), describe(&other)),
            }
        }
        Expect::Unrecognized(text) => {
            if report.unrecognized.iter().any(|u| u.entry.text == *text) {
                return None;
            }
            let listed: Vec<String> = report
                .unrecognized
                .iter()
                .map(|u| format!("\"{}\"", u.entry.text))
                .collect();
            fail(
                format!("\"{text}\" to be unrecognized"),
                if listed.is_empty() {
                    "every medication was recognized".into()
                } else {
                    format!("unrecognized: {}", listed.join(", "))
                },
            )
        }
    }
}
