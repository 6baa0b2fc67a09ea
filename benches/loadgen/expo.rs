//! Reading a saved Prometheus text exposition, and the little statistics
//! `bench/run` takes of its records: the figures of the report
//! (`histogram_quantile`-style lateness, bucket counts, counter sums, series
//! counts, medians of scrape timings) computed in one tested place instead
//! of awk one-liners in the shell script.
//!
//! `benches/loadgen.rs` runs these as subcommands;
//! `tests/testsuite/loadgen_expo.rs` includes this file and holds its tests,
//! so that `cargo test` runs them (loadgen is a `harness = false` bench,
//! which `cargo test` does not run).

use std::borrow::Cow;
use std::fmt;

/// The subcommands of this module, so `loadgen` knows which arguments to
/// hand over.
pub const COMMANDS: &[&str] = &[
    "quantile",
    "quantile-le",
    "bucket",
    "sum",
    "series",
    "median",
];

/// How to call the subcommands, for `loadgen`'s usage text.
pub const USAGE: &str = "\
\x20      loadgen quantile Q HISTOGRAM FILE      histogram_quantile(Q), linear within a bucket; \">LE\" in +Inf; n/a
       loadgen quantile-le Q HISTOGRAM FILE   upper bound of the bucket holding quantile Q
       loadgen bucket HISTOGRAM LE FILE       cumulative count of one bucket (summed over series)
       loadgen sum NAME [LABEL=VALUE...] FILE sum of the samples of NAME (LABEL= means the label is absent)
       loadgen series [LABEL=VALUE...] FILE   samples (lines that are not comments) with those labels
       loadgen median [--key K] [--field N] [--scale X] [FILE]
                                              median of field N (1-based, default 1) times X of the
                                              whitespace-separated records (whose first field is K)
                                              of FILE or stdin; 0 when there are none";

/// One sample line of an exposition: `name{labels} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The metric name, with any `_bucket`/`_sum`/`_count`/`_total` suffix.
    pub name: &'a str,
    /// Label names and unescaped values, in the order written.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    /// The sample value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

impl Sample<'_> {
    /// The value of a label, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| *label == name)
            .map(|(_, value)| value.as_ref())
    }
}

/// Every sample of an exposition, in order, skipping comments and blank
/// lines; a line that is not a sample is an error naming its line number.
pub fn samples(text: &str) -> impl Iterator<Item = Result<Sample<'_>, String>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            !line.is_empty() && !line.starts_with('#')
        })
        .map(|(index, line)| {
            parse_line(line).map_err(|e| format!("line {}: {e}: {line}", index + 1))
        })
}

/// The metric name a sample line starts with, without parsing the rest:
/// lets a reader skip the lines of other families cheaply.
fn line_name(line: &str) -> &str {
    let line = line.trim_start();
    let end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    &line[..end]
}

/// The samples of the metric `name` only.
fn samples_named<'a>(
    text: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Result<Sample<'a>, String>> + 'a {
    text.lines()
        .enumerate()
        .filter(move |(_, line)| !line.trim_start().starts_with('#') && line_name(line) == name)
        .map(|(index, line)| {
            parse_line(line).map_err(|e| format!("line {}: {e}: {line}", index + 1))
        })
}

fn parse_line(line: &str) -> Result<Sample<'_>, String> {
    let line = line.trim();
    let name = line_name(line);
    if name.is_empty() {
        return Err("no metric name".into());
    }
    let mut rest = &line[name.len()..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches([' ', ',']);
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest.split_once('=').ok_or("a label without =")?;
            let after = after
                .strip_prefix('"')
                .ok_or("a label value not in quotes")?;
            let (value, after) = quoted(after)?;
            labels.push((label.trim(), value));
            rest = after;
        }
    }
    let value = rest.split_whitespace().next().ok_or("no value")?;
    let value = parse_value(value)?;
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// A label value up to its closing quote (the opening one already read),
/// unescaped, and what follows the closing quote.
fn quoted(text: &str) -> Result<(Cow<'_, str>, &str), String> {
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => {
                let raw = &text[..at];
                let value = if raw.contains('\\') {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                };
                return Ok((value, &text[at + 1..]));
            }
            (false, _) => {}
        }
    }
    Err("an unclosed label value".into())
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A sample value or bucket bound as the text format writes it.
fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text
            .parse()
            .map_err(|_| format!("{text:?} is not a number")),
    }
}

/// `LABEL=VALUE` on the command line: the sample's label equals VALUE; an
/// empty VALUE means the label is absent (as `{label=""}` in PromQL).
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// The label name.
    pub label: String,
    /// The wanted value; empty for "absent".
    pub value: String,
}

impl Matcher {
    /// Reads `LABEL=VALUE`.
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let (label, value) = text
            .split_once('=')
            .filter(|(label, _)| !label.is_empty())
            .ok_or_else(|| format!("{text:?} is not LABEL=VALUE"))?;
        Ok(Matcher {
            label: label.to_owned(),
            value: value.to_owned(),
        })
    }

    /// True when `sample` satisfies this matcher.
    pub fn matches(&self, sample: &Sample<'_>) -> bool {
        sample.label(&self.label).unwrap_or_default() == self.value
    }
}

/// One cumulative bucket of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// The `le` label as written (`"0.005"`, `"+Inf"`), which the report
    /// prints unchanged.
    pub le: String,
    /// `le` as a number, for ordering and interpolation.
    pub upper: f64,
    /// Observations at or below `upper` (cumulative).
    pub count: f64,
}

/// The buckets of the histogram `name` (the family name, without
/// `_bucket`), in increasing `le`, each summed over every series that has
/// it: with one series, exactly that series' buckets.
pub fn histogram(text: &str, name: &str) -> Result<Vec<Bucket>, String> {
    let series = format!("{name}_bucket");
    let mut buckets: Vec<Bucket> = Vec::new();
    for sample in samples_named(text, &series) {
        let sample = sample?;
        let le = sample
            .label("le")
            .ok_or_else(|| format!("a {series} sample without le"))?;
        let upper = parse_value(le)?;
        match buckets.iter_mut().find(|b| b.upper == upper) {
            Some(bucket) => bucket.count += sample.value,
            None => buckets.push(Bucket {
                le: le.to_owned(),
                upper,
                count: sample.value,
            }),
        }
    }
    buckets.sort_by(|a, b| a.upper.total_cmp(&b.upper));
    Ok(buckets)
}

/// What `quantile` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantile {
    /// No buckets, or no observations: printed `n/a`.
    NoData,
    /// Interpolated linearly within the bucket holding the rank, as
    /// Prometheus' `histogram_quantile` does; printed with 4 decimals.
    Within(f64),
    /// The rank falls in the `+Inf` bucket: only "above the largest finite
    /// bound" is known; printed `>LE` with that bound as written.
    AboveLargestBound(String),
}

impl fmt::Display for Quantile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantile::NoData => f.write_str("n/a"),
            Quantile::Within(value) => write!(f, "{value:.4}"),
            Quantile::AboveLargestBound(le) => write!(f, ">{le}"),
        }
    }
}

/// The `q` quantile of cumulative `buckets` (the last is `+Inf`, the total):
/// the rank `q × total` is found in the first bucket whose count reaches it
/// and interpolated between that bucket's lower bound (the previous bound,
/// 0 for the first) and its upper bound; an empty bucket yields its upper
/// bound.
pub fn quantile(buckets: &[Bucket], q: f64) -> Quantile {
    let Some(total) = buckets.last().map(|b| b.count).filter(|&c| c != 0.0) else {
        return Quantile::NoData;
    };
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (i, bucket) in buckets.iter().enumerate() {
        if bucket.count >= rank {
            if bucket.upper == f64::INFINITY {
                let le = i.checked_sub(1).map_or("", |j| buckets[j].le.as_str());
                return Quantile::AboveLargestBound(le.to_owned());
            }
            let inside = bucket.count - below;
            return Quantile::Within(if inside > 0.0 {
                lower + (bucket.upper - lower) * (rank - below) / inside
            } else {
                bucket.upper
            });
        }
        lower = bucket.upper;
        below = bucket.count;
    }
    Quantile::NoData
}

/// The `le` of the bucket holding the `q` quantile (`+Inf` included), or
/// `None` without observations.
pub fn quantile_le(buckets: &[Bucket], q: f64) -> Option<&str> {
    let total = buckets.last().map(|b| b.count).filter(|&c| c != 0.0)?;
    buckets
        .iter()
        .find(|b| b.count >= q * total)
        .map(|b| b.le.as_str())
}

/// The cumulative count of the bucket with upper bound `le` (compared as
/// numbers: `1` finds `le="1.0"`), if the histogram has it.
pub fn bucket_count(buckets: &[Bucket], le: &str) -> Result<Option<f64>, String> {
    let upper = parse_value(le)?;
    Ok(buckets.iter().find(|b| b.upper == upper).map(|b| b.count))
}

/// The sum of the samples named exactly `name` that satisfy every matcher.
pub fn sum(text: &str, name: &str, matchers: &[Matcher]) -> Result<f64, String> {
    let mut total = 0.0;
    for sample in samples_named(text, name) {
        let sample = sample?;
        if matchers.iter().all(|m| m.matches(&sample)) {
            total += sample.value;
        }
    }
    Ok(total)
}

/// How many samples (series, in one scrape) satisfy every matcher.
pub fn series(text: &str, matchers: &[Matcher]) -> Result<usize, String> {
    let mut count = 0;
    for sample in samples(text) {
        let sample = sample?;
        if matchers.iter().all(|m| m.matches(&sample)) {
            count += 1;
        }
    }
    Ok(count)
}

/// The median: the middle value, or the mean of the two middle ones; 0
/// for no values (a figure that was not measured reads 0, as before).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Field `field` (1-based) of each whitespace-separated record whose first
/// field is `key` (every record without a key), times `scale`.
pub fn column(
    records: &str,
    key: Option<&str>,
    field: usize,
    scale: f64,
) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for (index, line) in records.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() || key.is_some_and(|key| fields[0] != key) {
            continue;
        }
        let text = field
            .checked_sub(1)
            .and_then(|i| fields.get(i))
            .ok_or_else(|| format!("line {}: no field {field}: {line}", index + 1))?;
        out.push(parse_value(text)? * scale);
    }
    Ok(out)
}

/// A number as awk's `print` writes it: integral values as integers, others
/// with 6 significant digits (`%.6g`), so the report reads as it did when
/// awk computed it.
pub fn format_number(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == value.trunc() && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    let scientific = format!("{value:.5e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs());
    }
    let decimals = (5 - exponent) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_owned()
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Runs one of [`COMMANDS`] with its arguments (after the command name);
/// `read` gives a file's text (`-` or no file: standard input). Returns what
/// to print.
pub fn run(
    command: &str,
    args: &[String],
    read: &dyn Fn(Option<&str>) -> Result<String, String>,
) -> Result<String, String> {
    let arg = |i: usize, what: &str| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("{command}: {what} is missing"))
    };
    let file = |i: usize| -> Result<String, String> {
        if args.len() != i + 1 {
            return Err(format!("{command}: expected {} arguments", i + 1));
        }
        read(Some(&args[i]))
    };
    match command {
        "quantile" | "quantile-le" => {
            let q = probability(arg(0, "Q")?)?;
            let buckets = histogram(&file(2)?, arg(1, "HISTOGRAM")?)?;
            Ok(if command == "quantile" {
                quantile(&buckets, q).to_string()
            } else {
                quantile_le(&buckets, q).unwrap_or("n/a").to_owned()
            })
        }
        "bucket" => {
            let buckets = histogram(&file(2)?, arg(0, "HISTOGRAM")?)?;
            Ok(bucket_count(&buckets, arg(1, "LE")?)?
                .map(format_number)
                .unwrap_or_default())
        }
        "sum" => {
            let name = arg(0, "NAME")?;
            let last = args
                .len()
                .checked_sub(1)
                .filter(|&i| i >= 1)
                .ok_or("sum: FILE is missing")?;
            let matchers = matchers(&args[1..last])?;
            Ok(format_number(sum(&file(last)?, name, &matchers)?))
        }
        "series" => {
            let last = args.len().checked_sub(1).ok_or("series: FILE is missing")?;
            let matchers = matchers(&args[..last])?;
            Ok(series(&file(last)?, &matchers)?.to_string())
        }
        "median" => median_command(args, read),
        other => Err(format!("{other:?} is not an exposition command")),
    }
}

fn median_command(
    args: &[String],
    read: &dyn Fn(Option<&str>) -> Result<String, String>,
) -> Result<String, String> {
    let (mut key, mut field, mut scale, mut file) = (None, 1usize, 1.0, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .map(String::as_str)
                .ok_or_else(|| format!("median: {name} needs a value"))
        };
        match arg.as_str() {
            "--key" => key = Some(value("--key")?),
            "--field" => {
                field = value("--field")?
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or("median: --field wants a number from 1")?
            }
            "--scale" => {
                let text = value("--scale")?;
                scale = parse_value(text).map_err(|e| format!("median: --scale: {e}"))?;
            }
            other if other.starts_with("--") => return Err(format!("median: unknown {other}")),
            path if file.is_none() => file = Some(path),
            extra => return Err(format!("median: unexpected {extra:?}")),
        }
    }
    let records = read(file.filter(|&f| f != "-"))?;
    Ok(format_number(median(column(&records, key, field, scale)?)))
}

fn probability(text: &str) -> Result<f64, String> {
    parse_value(text)
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        .ok_or_else(|| format!("Q {text:?} is not a number from 0 to 1"))
}

fn matchers(args: &[String]) -> Result<Vec<Matcher>, String> {
    args.iter().map(|arg| Matcher::parse(arg)).collect()
}
