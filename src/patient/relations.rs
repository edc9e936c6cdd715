//! A site's RxNorm relation table: clinical-drug, branded-drug and pack codes to the codes of
//! their ingredients, so an entry coded only by its product (RxCUI 1049221, "Acetaminophen 325 MG
//! / Oxycodone Hydrochloride 5 MG Oral Tablet") resolves to its ingredients.
//!
//! Two shapes are read (documented in `docs/patients.md`):
//! - RxNorm's `RXNREL.RRF`, pipe-delimited, columns RXCUI1|RXAUI1|STYPE1|REL|RXCUI2|RXAUI2|
//!   STYPE2|RELA|RUI|SRUI|SAB|SL|DIR|RG|SUPPRESS|CVF. RELA is the relation RXCUI2 has to RXCUI1
//!   (RxNorm technical documentation, RXNREL); rows of SAB RXNORM whose RELA leads from a product
//!   towards its ingredients are followed: SBD `tradename_of` SCD, SCD `consists_of` SCDC, SCDC
//!   `has_ingredient` IN, packs `contains` SCD/SBD, BN `tradename_of` IN, PIN `form_of` IN, MIN
//!   `has_part` IN. The codes where the walk ends are the ingredients.
//! - A two-column CSV `descendant_rxcui,ingredient_rxcui` (an optional header line), as an OMOP
//!   `concept_ancestor` export joined to `concept` gives it.
//!
//! The table is read and closed once; the engine keeps only code -> ingredient ids.

use crate::fxhash::FxHashMap;
use crate::ir::DrugId;
use std::io::BufRead;

/// The relations followed from a product towards its ingredients (RELA of RXCUI2 to RXCUI1).
const TOWARDS_INGREDIENT: &[&str] = &[
    "consists_of",
    "contains",
    "form_of",
    "has_ingredient",
    "has_part",
    "tradename_of",
];

/// At most this many faulty lines are listed before reading stops.
const MAX_ERRORS: usize = 20;

/// The relation table as read: each code to the ingredient codes it leads to.
#[derive(Debug, Clone, Default)]
pub struct RxnormRelations {
    ingredients: FxHashMap<u32, Box<[u32]>>,
    /// Lines read (header and blank lines included).
    pub lines: usize,
    /// Relations kept (rows followed towards an ingredient).
    pub relations: usize,
}

/// What an attached table gives the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelationSummary {
    /// Product codes that resolve to at least one vocabulary ingredient.
    pub codes: usize,
    /// Distinct ingredient codes of the table that the vocabulary does not declare (ignored).
    pub unknown_ingredients: usize,
    /// Product codes none of whose ingredients the vocabulary declares (left out).
    pub codes_without_known_ingredient: usize,
}

/// A line of the table that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// Why a relation table cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RelationError {
    /// The file cannot be read.
    #[error("cannot read the relation table: {0}")]
    Io(#[from] std::io::Error),
    /// Lines that are not relations of either shape (the first [`MAX_ERRORS`]).
    #[error("{} faulty line(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Lines(Vec<LineError>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Rrf,
    Csv,
}

impl RxnormRelations {
    /// Reads a table in either shape (told by its first relation line).
    pub fn read(reader: impl BufRead) -> Result<RxnormRelations, RelationError> {
        let mut edges: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut errors = Vec::new();
        let mut shape = None;
        let mut table = RxnormRelations::default();
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            let n = i + 1;
            table.lines = n;
            let line = line.trim_start_matches('\u{feff}').trim_end();
            if line.is_empty() {
                continue;
            }
            let this = if line.contains('|') {
                Shape::Rrf
            } else {
                Shape::Csv
            };
            if *shape.get_or_insert(this) != this {
                errors.push(LineError {
                    line: n,
                    reason: "mixes RXNREL rows and CSV rows in one file".into(),
                });
            } else {
                let row = match this {
                    Shape::Rrf => rrf_row(line),
                    Shape::Csv if n == 1 && is_header(line) => Ok(None),
                    // An ingredient is its own descendant in concept_ancestor: not an edge.
                    Shape::Csv => csv_row(line).map(|(a, b)| (a != b).then_some((a, b))),
                };
                match row {
                    Ok(Some((from, to))) => {
                        edges.entry(from).or_default().push(to);
                        table.relations += 1;
                    }
                    Ok(None) => {}
                    Err(reason) => errors.push(LineError { line: n, reason }),
                }
            }
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
        if !errors.is_empty() {
            return Err(RelationError::Lines(errors));
        }
        table.ingredients = close(&edges);
        Ok(table)
    }

    /// Reads a table from a file.
    pub fn from_path(path: &std::path::Path) -> Result<RxnormRelations, RelationError> {
        let file = std::fs::File::open(path)?;
        RxnormRelations::read(std::io::BufReader::new(file))
    }

    /// Product codes with the ingredient codes they lead to.
    pub fn len(&self) -> usize {
        self.ingredients.len()
    }

    /// No relation was read.
    pub fn is_empty(&self) -> bool {
        self.ingredients.is_empty()
    }

    /// The ingredient codes of a product code.
    pub fn ingredients_of(&self, code: u32) -> Option<&[u32]> {
        self.ingredients.get(&code).map(|v| &v[..])
    }

    /// Each code to the vocabulary ingredients its ingredient codes are (`known` tells the
    /// ingredients of one code, by its text), with the counts of what was left out.
    pub(crate) fn resolve<'k>(
        &self,
        known: impl Fn(&str) -> &'k [DrugId],
    ) -> (FxHashMap<u32, Box<[DrugId]>>, RelationSummary) {
        let mut summary = RelationSummary::default();
        let mut unknown: FxHashMap<u32, ()> = FxHashMap::default();
        let mut out = FxHashMap::default();
        let mut buf = String::new();
        for (&code, ingredients) in &self.ingredients {
            let mut drugs: Vec<DrugId> = Vec::new();
            for &ing in ingredients.iter() {
                buf.clear();
                buf.push_str(&ing.to_string());
                let found = known(&buf);
                if found.is_empty() {
                    unknown.insert(ing, ());
                }
                for &d in found {
                    if !drugs.contains(&d) {
                        drugs.push(d);
                    }
                }
            }
            if drugs.is_empty() {
                summary.codes_without_known_ingredient += 1;
            } else {
                out.insert(code, drugs.into_boxed_slice());
            }
        }
        summary.codes = out.len();
        summary.unknown_ingredients = unknown.len();
        (out, summary)
    }
}

fn is_header(line: &str) -> bool {
    !line.starts_with(|c: char| c.is_ascii_digit())
}

/// An RxCUI: digits only.
fn rxcui(field: &str, what: &str) -> Result<u32, String> {
    let f = field.trim().trim_matches('"');
    f.parse()
        .ok()
        .filter(|_| f.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("{what} `{f}` is not an RxNorm code (digits)"))
}

/// One RXNREL row: the edge from RXCUI2 towards RXCUI1 when it is followed.
fn rrf_row(line: &str) -> Result<Option<(u32, u32)>, String> {
    let fields: Vec<&str> = line.split('|').collect();
    if fields.len() < 11 {
        return Err(format!(
            "an RXNREL row has at least 11 fields (RXCUI1 ... SAB), this one {}",
            fields.len()
        ));
    }
    let (rela, sab) = (fields[7], fields[10]);
    if sab != "RXNORM" || !TOWARDS_INGREDIENT.contains(&rela) {
        return Ok(None);
    }
    let to = rxcui(fields[0], "RXCUI1")?;
    let from = rxcui(fields[4], "RXCUI2")?;
    Ok((from != to).then_some((from, to)))
}

/// One CSV row: `descendant_rxcui,ingredient_rxcui` (comma or tab).
fn csv_row(line: &str) -> Result<(u32, u32), String> {
    let mut parts = line.split([',', '\t']);
    let (Some(from), Some(to), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected two columns: descendant_rxcui,ingredient_rxcui".into());
    };
    Ok((
        rxcui(from, "descendant_rxcui")?,
        rxcui(to, "ingredient_rxcui")?,
    ))
}

/// Closes the edges: every code that has an edge to the codes with none (its ingredients).
/// Iterative, with each code's answer kept, so deep or cyclic tables cost no stack.
fn close(edges: &FxHashMap<u32, Vec<u32>>) -> FxHashMap<u32, Box<[u32]>> {
    let mut done: FxHashMap<u32, Box<[u32]>> = FxHashMap::default();
    let mut on_path: FxHashMap<u32, ()> = FxHashMap::default();
    for &root in edges.keys() {
        if done.contains_key(&root) {
            continue;
        }
        // Each frame: a code and how many of its edges are done.
        let mut stack: Vec<(u32, usize)> = vec![(root, 0)];
        on_path.insert(root, ());
        while let Some(&mut (code, ref mut next)) = stack.last_mut() {
            let out = &edges[&code];
            if let Some(&child) = out.get(*next) {
                *next += 1;
                if edges.contains_key(&child)
                    && !done.contains_key(&child)
                    && !on_path.contains_key(&child)
                {
                    on_path.insert(child, ());
                    stack.push((child, 0));
                }
                continue;
            }
            let mut found: Vec<u32> = Vec::new();
            for &child in out {
                let leaves: &[u32] = match done.get(&child) {
                    Some(l) => l,
                    None if edges.contains_key(&child) => &[], // a cycle: its own walk adds it
                    None => std::slice::from_ref(&child),
                };
                for &l in leaves {
                    if !found.contains(&l) {
                        found.push(l);
                    }
                }
            }
            found.sort_unstable();
            done.insert(code, found.into_boxed_slice());
            on_path.remove(&code);
            stack.pop();
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrf(rxcui1: u32, rela: &str, rxcui2: u32) -> String {
        format!("{rxcui1}|A1|CUI|RO|{rxcui2}|A2|CUI|{rela}|R1||RXNORM|RXNORM|||N||")
    }

    fn read(text: &str) -> Result<RxnormRelations, RelationError> {
        RxnormRelations::read(text.as_bytes())
    }

    #[test]
    fn a_branded_drug_resolves_through_its_clinical_drug_to_every_ingredient() {
        // SBD 2 tradename_of SCD 1; SCD consists_of SCDC 10 and 11; each SCDC has_ingredient.
        let table = [
            rrf(1, "tradename_of", 2),
            rrf(10, "consists_of", 1),
            rrf(11, "consists_of", 1),
            rrf(161, "has_ingredient", 10),
            rrf(7804, "has_ingredient", 11),
            // Followed the other way round: not towards an ingredient.
            rrf(1, "ingredient_of", 161),
            rrf(2, "has_tradename", 1),
        ]
        .join("\n");
        let t = read(&table).unwrap();
        assert_eq!(t.ingredients_of(2), Some(&[161, 7804][..]));
        assert_eq!(t.ingredients_of(1), Some(&[161, 7804][..]));
        assert_eq!(t.ingredients_of(10), Some(&[161][..]));
        assert_eq!(t.ingredients_of(161), None);
        assert_eq!(t.relations, 5);
    }

    #[test]
    fn rows_of_other_sources_are_not_followed() {
        let other = "7804|A1|AUI|RO|11|A2|AUI|has_ingredient|R1||MTHSPL|MTHSPL|||N||";
        assert!(read(other).unwrap().is_empty());
    }

    #[test]
    fn the_omop_csv_gives_pairs_with_an_optional_header() {
        let csv = "descendant_rxcui,ingredient_rxcui\n1049221,161\n1049221,7804\n161,161\n\n";
        let t = read(csv).unwrap();
        assert_eq!(t.ingredients_of(1049221), Some(&[161, 7804][..]));
        assert_eq!(t.ingredients_of(161), None);
        assert_eq!(t.lines, 5);
    }

    #[test]
    fn faulty_lines_are_reported_with_their_numbers() {
        let Err(RelationError::Lines(errors)) = read("1,2\n3;4\nx5,6\n7,8,9\n") else {
            panic!("faulty lines accepted");
        };
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        let Err(RelationError::Lines(errors)) = read(&format!("{}\n1,2", rrf(1, "contains", 2)))
        else {
            panic!("mixed shapes accepted");
        };
        assert_eq!(errors[0].line, 2);
        let Err(RelationError::Lines(errors)) = read("1|2|3") else {
            panic!("a short row accepted");
        };
        assert!(errors[0].reason.contains("11 fields"));
    }

    #[test]
    fn cycles_end() {
        let table = [
            rrf(1, "tradename_of", 2),
            rrf(2, "tradename_of", 1),
            rrf(5, "consists_of", 1),
        ]
        .join("\n");
        let t = read(&table).unwrap();
        assert_eq!(t.ingredients_of(1), Some(&[5][..]));
    }

    #[test]
    fn unknown_ingredients_are_counted_and_left_out() {
        let t = read("100,161\n100,999\n200,999\n").unwrap();
        let known: &[DrugId] = &[3];
        let (map, summary) = t.resolve(|c| if c == "161" { known } else { &[] });
        assert_eq!(map.get(&100).map(|d| &d[..]), Some(&[3][..]));
        assert!(!map.contains_key(&200));
        assert_eq!(
            summary,
            RelationSummary {
                codes: 1,
                unknown_ingredients: 1,
                codes_without_known_ingredient: 1
            }
        );
    }
}
