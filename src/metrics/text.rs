//! The Prometheus text format (version 0.0.4): family headers, series
//! lines, label escaping and number spelling. Knows nothing of tenants:
//! [`super::tenant_series`] decides what to write, this decides how.

use std::fmt;
use std::io::{self, Write};

use super::families::Family;

/// Writes the samples of one family; its `# HELP` and `# TYPE` lines come
/// with the first sample, as a family without samples is not valid
/// exposition (with no tenants, the per-tenant families have none).
pub struct FamilyWriter<'a, W> {
    out: &'a mut W,
    family: &'static Family,
    started: bool,
}

impl<'a, W: Write> FamilyWriter<'a, W> {
    /// A writer of `family` that has written nothing yet.
    pub fn new(out: &'a mut W, family: &'static Family) -> Self {
        FamilyWriter {
            out,
            family,
            started: false,
        }
    }

    /// The same family, continuing into another output: for writing one
    /// family piece by piece into scratch buffers (the header comes only
    /// once).
    pub fn resume(out: &'a mut W, family: &'static Family, started: bool) -> Self {
        FamilyWriter {
            out,
            family,
            started,
        }
    }

    /// Whether the header has been written.
    pub fn started(&self) -> bool {
        self.started
    }

    /// One series: `name{labels} value`.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl fmt::Display) -> io::Result<()> {
        self.line("", labels, None, value)
    }

    /// One series with one more label after `labels` (e.g. `result`).
    pub fn sample_with(
        &mut self,
        labels: &[(&str, &str)],
        extra: (&str, &str),
        value: impl fmt::Display,
    ) -> io::Result<()> {
        self.line("", labels, Some(extra), value)
    }

    /// A histogram's `_bucket`, `_sum` and `_count` series; `counts` are
    /// per bucket (not cumulative) and `le` their bounds as label values,
    /// `+Inf` last.
    pub fn histogram(
        &mut self,
        labels: &[(&str, &str)],
        le: &[Box<str>],
        counts: &[u64],
        sum: f64,
    ) -> io::Result<()> {
        let mut cumulative = 0u64;
        for (count, le) in counts.iter().zip(le) {
            cumulative += count;
            self.line("_bucket", labels, Some(("le", le)), cumulative)?;
        }
        self.line("_sum", labels, None, Float(sum))?;
        self.line("_count", labels, None, cumulative)
    }

    fn line(
        &mut self,
        suffix: &str,
        labels: &[(&str, &str)],
        extra: Option<(&str, &str)>,
        value: impl fmt::Display,
    ) -> io::Result<()> {
        let name = self.family.name;
        if !self.started {
            self.started = true;
            writeln!(self.out, "# HELP {name} {}", Help(self.family.help))?;
            writeln!(self.out, "# TYPE {name} {}", self.family.kind.as_str())?;
        }
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(suffix.as_bytes())?;
        let mut separator = "{";
        for (key, value) in labels.iter().chain(extra.as_ref()) {
            write!(self.out, "{separator}{key}=\"{}\"", LabelValue(value))?;
            separator = ",";
        }
        if separator == "," {
            self.out.write_all(b"}")?;
        }
        writeln!(self.out, " {value}")
    }
}

/// The `le` label values of histogram bounds, `+Inf` last.
pub fn le_labels(bounds: &[f64]) -> Vec<Box<str>> {
    bounds
        .iter()
        .map(|b| Float(*b).to_string().into_boxed_str())
        .chain(std::iter::once("+Inf".into()))
        .collect()
}

/// A sample value or bound as the text format spells it.
#[derive(Debug, Clone, Copy)]
pub struct Float(pub f64);

impl fmt::Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_nan() {
            f.write_str("NaN")
        } else if v.is_infinite() {
            f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{v}")
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub struct LabelValue<'a>(pub &'a str);

impl fmt::Display for LabelValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, true)
    }
}

/// HELP text with `\` and newlines escaped (quotes stay).
pub struct Help<'a>(pub &'a str);

impl fmt::Display for Help<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        escape(f, self.0, false)
    }
}

fn escape(f: &mut fmt::Formatter<'_>, text: &str, quotes: bool) -> fmt::Result {
    let special = |c: char| c == '\\' || c == '\n' || (quotes && c == '"');
    let mut rest = text;
    while let Some(at) = rest.find(special) {
        f.write_str(&rest[..at])?;
        let c = rest[at..].chars().next().expect("found above");
        f.write_str(match c {
            '\\' => "\\\\",
            '\n' => "\\n",
            _ => "\\\"",
        })?;
        rest = &rest[at + c.len_utf8()..];
    }
    f.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::families::{Kind, TOKEN_DURATION, TOKEN_SUCCESS};

    #[test]
    fn floats_are_spelled_as_the_text_format_wants() {
        assert_eq!(Float(1.0).to_string(), "1");
        assert_eq!(Float(0.005).to_string(), "0.005");
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(1_764_000_000.25).to_string(), "1764000000.25");
    }

    #[test]
    fn help_escapes_backslashes_and_newlines_but_not_quotes() {
        assert_eq!(Help("a\\b\nc \"d\"").to_string(), "a\\\\b\\nc \"d\"");
        assert_eq!(
            LabelValue("a\\b\nc \"d\"").to_string(),
            "a\\\\b\\nc \\\"d\\\""
        );
        assert_eq!(Help("plain").to_string(), "plain");
    }

    #[test]
    fn the_header_comes_once_before_the_first_sample() {
        let mut out = Vec::new();
        let mut writer = FamilyWriter::new(&mut out, &TOKEN_SUCCESS);
        writer.sample(&[("tenant", "a")], 1).unwrap();
        writer
            .sample_with(&[("tenant", "b")], ("x", "y"), 0)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "# HELP credprobe_token_success {}\n# TYPE credprobe_token_success gauge\n\
                 credprobe_token_success{{tenant=\"a\"}} 1\n\
                 credprobe_token_success{{tenant=\"b\",x=\"y\"}} 0\n",
                TOKEN_SUCCESS.help
            )
        );
        let mut nothing = Vec::new();
        assert!(!FamilyWriter::new(&mut nothing, &TOKEN_SUCCESS).started());
        assert!(
            nothing.is_empty(),
            "a family without samples writes nothing"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        assert_eq!(TOKEN_DURATION.kind, Kind::Histogram);
        let mut out = Vec::new();
        let le = le_labels(&[0.01, 0.1]);
        FamilyWriter::new(&mut out, &TOKEN_DURATION)
            .histogram(&[("tenant", "a")], &le, &[2, 1, 1], 2.065)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let family = "credprobe_token_request_duration_seconds";
        for line in [
            format!("{family}_bucket{{tenant=\"a\",le=\"0.01\"}} 2"),
            format!("{family}_bucket{{tenant=\"a\",le=\"0.1\"}} 3"),
            format!("{family}_bucket{{tenant=\"a\",le=\"+Inf\"}} 4"),
            format!("{family}_sum{{tenant=\"a\"}} 2.065"),
            format!("{family}_count{{tenant=\"a\"}} 4"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}
