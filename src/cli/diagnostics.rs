//! Rendering diagnostics with miette: file:line:col, the source line, a caret, the help line.
//! Colour only on a terminal, and never with NO_COLOR set.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use rxguard::diagnostic::{Diagnostic, Diagnostics};
use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;

struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<Arc<str>>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.diagnostic.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.level {
            rxguard::diagnostic::Level::Error => miette::Severity::Error,
            rxguard::diagnostic::Level::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diagnostic.span;
        let len = (span.end.saturating_sub(span.start)).max(1) as usize;
        let label = LabeledSpan::new_with_span(
            Some(
                self.diagnostic
                    .label
                    .clone()
                    .unwrap_or_else(|| "here".into()),
            ),
            SourceSpan::new((span.start as usize).into(), len),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// Renders every diagnostic to standard error.
pub fn print(diagnostics: &Diagnostics) {
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    eprint!("{}", render(diagnostics, color));
}

/// Every diagnostic rendered; `color` picks the theme.
pub fn render(diagnostics: &Diagnostics, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    // Each source text is shared by its diagnostics, not copied for each.
    let texts: Vec<(String, Arc<str>)> = diagnostics
        .sources
        .iter()
        .map(|(_, s)| (s.name.clone(), Arc::from(s.text.as_str())))
        .collect();
    for d in &diagnostics.items {
        let (name, text) = texts
            .get(d.span.source as usize)
            .cloned()
            .unwrap_or_else(|| (String::new(), Arc::from("")));
        let report = Report {
            diagnostic: d,
            source: NamedSource::new(name, text).with_language("rxguard"),
        };
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&d.render_plain(&diagnostics.sources));
        }
        out.push('\n');
    }
    out
}
