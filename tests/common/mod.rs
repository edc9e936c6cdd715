//! Shared by the integration tests: the `# expect:` header of a corpus pack, and a seeded
//! generator of rule packs over the bundled vocabulary, whose expressions use every predicate.

#![allow(dead_code)]

/// Runs the `rxguard` binary with these arguments, feeding `stdin` when given.
pub fn rxguard(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_rxguard"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed standard input from another thread, so a large input cannot deadlock against a full
    // standard output pipe.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    out
}

/// The codes the first line of a corpus pack says it must produce:
/// `# expect: E010, W001 — what the pack shows`.
pub fn expected_codes(text: &str) -> Vec<String> {
    let header = text.lines().next().unwrap_or("");
    let list = header
        .strip_prefix("# expect:")
        .unwrap_or_else(|| panic!("missing `# expect:` header"));
    let codes = list.split('—').next().unwrap_or("");
    codes
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// A small deterministic generator (xorshift) for rule expressions.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const DRUGS: &[&str] = &[
    "baclofen",
    "oxycodone",
    "gabapentin",
    "lorazepam",
    "alprazolam",
    "tramadol",
    "bupropion",
    "clozapine",
    "levetiracetam",
    "zolpidem",
    "morphine",
    "pregabalin",
];
const CLASSES: &[&str] = &[
    "opioid",
    "benzodiazepine",
    "gabapentinoid",
    "cns_active",
    "z_drug",
    "antipsychotic",
    "strong_anticholinergic",
    "antiepileptic",
];
const CONDITIONS: &[&str] = &[
    "epilepsy",
    "dialysis",
    "falls_history",
    "opioid_use_disorder",
    "dementia",
];
const OPS: &[&str] = &["<", "<=", ">", ">=", "==", "!="];
const ROUTES: &[&str] = &["oral", "intrathecal"];

fn comparison(rng: &mut Rng, subject: String, threshold: String) -> String {
    let op = rng.pick(OPS);
    // Half the time the threshold comes first, which the trigger derivation must flip.
    if rng.below(2) == 0 {
        format!("{subject} {op} {threshold}")
    } else {
        format!("{threshold} {op} {subject}")
    }
}

/// The table every random pack declares: a stop window per ingredient, ranged over by `any` and
/// `all` and read as `window[d]`.
const WINDOW_TABLE: &str = "table window: days {\n  baclofen 14 days\n  lorazepam 21 days\n  diazepam 7 days\n  oxycodone 0 days\n}\n";

/// A predicate; inside a quantifier, `bound` is its name and the domain is the `window` table
/// (so `window[d]` is defined) or a class.
fn predicate(rng: &mut Rng, bound: Option<(&str, bool)>) -> String {
    let drug = bound.map_or_else(|| rng.pick(DRUGS), |(name, _)| name);
    if let Some((name, true)) = bound
        && rng.below(3) == 0
    {
        return format!(
            "stopped({name}, route: {}, within: window[{name}])",
            rng.pick(ROUTES)
        );
    }
    let route = rng.pick(ROUTES);
    let (a, b) = (rng.below(100), rng.below(60));
    match rng.below(15) {
        0 => format!("taking({})", rng.pick(CLASSES)),
        1 => format!("taking({drug})"),
        2 => format!("new({})", rng.pick(CLASSES)),
        3 => comparison(
            rng,
            format!("count({})", CLASSES[0..4][drug.len() % 4]),
            format!("{}", drug.len() % 4),
        ),
        4 => comparison(rng, "age".into(), format!("{}", 40 + a / 2)),
        5 => format!("has({})", rng.pick(CONDITIONS)),
        6 => format!("had({})", rng.pick(CONDITIONS)),
        7 => comparison(rng, "lab(egfr)".into(), format!("{} mL/min/1.73m2", 15 + a)),
        8 => comparison(
            rng,
            format!("daily_dose({drug}, route: {route})"),
            format!("{a} mg/day"),
        ),
        9 => comparison(
            rng,
            format!("daily_dose({drug}, route: oral, on: as_of - {b} days)"),
            format!("{} mg/day", a / 2),
        ),
        10 => format!("route({drug}) == {route}"),
        11 => format!(
            "stopped({drug}, route: {route}, within: {} days)",
            rng.below(40)
        ),
        12 => format!("tapered({drug}, route: {route})"),
        13 => format!(
            "reduced({}, within: {} days)",
            rng.pick(CLASSES),
            1 + rng.below(60)
        ),
        _ => comparison(rng, "lab(crcl)".into(), format!("{} mL/min", 15 + a)),
    }
}

fn expression(rng: &mut Rng, depth: usize) -> String {
    quantified_expression(rng, depth, None)
}

fn quantified_expression(rng: &mut Rng, depth: usize, bound: Option<(&str, bool)>) -> String {
    if depth == 0 {
        return predicate(rng, bound);
    }
    let sub = |rng: &mut Rng| quantified_expression(rng, depth - 1, bound);
    match rng.below(6) {
        0 => format!("not ({})", sub(rng)),
        1 => format!("({}) or ({})", sub(rng), sub(rng)),
        2 | 3 => format!("({}) and ({})", sub(rng), sub(rng)),
        4 if bound.is_none() => {
            let quantifier = if rng.below(3) == 0 { "all" } else { "any" };
            let table = rng.below(2) == 0;
            let domain = if table { "window" } else { rng.pick(CLASSES) };
            let body = quantified_expression(rng, depth - 1, Some(("q", table)));
            format!("{quantifier}(q in {domain}: {body})")
        }
        _ => predicate(rng, bound),
    }
}

pub fn random_pack(seed: u64, rules: usize) -> String {
    let mut rng = Rng(seed | 1);
    let mut text = String::from("pack random \"Random rules\" version \"0\"\nuse vocabulary\n");
    text.push_str(WINDOW_TABLE);
    for r in 0..rules {
        text.push_str(&format!(
            "rule r{r} {{\n  severity major\n  when {}\n",
            expression(&mut rng, 3)
        ));
        if rng.below(3) == 0 {
            text.push_str(&format!("  unless {}\n", expression(&mut rng, 1)));
        }
        if rng.below(4) == 0 {
            text.push_str(&format!(
                "  downgrade to moderate when {}\n",
                expression(&mut rng, 1)
            ));
        }
        if r > 0 && rng.below(3) == 0 {
            text.push_str(&format!("  supersedes r{}\n", rng.below(r)));
        }
        text.push_str("  summary \"s\"\n  message \"m {drugs(opioid)} {age} {lab(egfr)}\"\n  cite \"test\"\n}\n");
    }
    text
}
