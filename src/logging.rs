//! Logging through tracing: logfmt lines by default (what Prometheus and
//! its exporters write), or JSON lines, always to stderr.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `ts=… level=info msg="…" key=value`
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The least severe level logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// Plus results that changed (a failure starting or ending), reloads,
    /// start and stop (default). Failures are warnings.
    Info,
    /// Plus every probe result, repeats included.
    Debug,
    /// Everything credprobe logs.
    Trace,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Installs the global subscriber. The level applies to credprobe's own
/// events; libraries are held at `info` at most, so `--log.level trace`
/// shows credprobe's detail rather than every byte hyper moves.
/// `RUST_LOG`, when set, replaces this filter entirely.
pub fn init(level: LogLevel, format: LogFormat) {
    let library = match level {
        LogLevel::Debug | LogLevel::Trace => "info",
        other => other.as_str(),
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{library},credprobe={}", level.as_str())));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = result;
}

/// A logfmt event formatter: `ts=… level=… target=… msg="…" k=v …`.
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ts = humantime::format_rfc3339_millis(std::time::SystemTime::now());
        let level = meta.level().as_str().to_ascii_lowercase();
        let mut line = format!("ts={ts} level={level} target={}", meta.target());
        let mut visitor = LogfmtFields {
            message: None,
            fields: String::new(),
        };
        event.record(&mut visitor);
        if let Some(message) = visitor.message {
            line.push_str(" msg=");
            push_value(&mut line, &message);
        }
        line.push_str(&visitor.fields);
        writeln!(writer, "{line}")
    }
}

struct LogfmtFields {
    message: Option<String>,
    fields: String,
}

impl Visit for LogfmtFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_owned());
        } else {
            let _ = write!(self.fields, " {}=", field.name());
            push_value(&mut self.fields, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Appends a logfmt value, quoted and escaped when it needs to be.
fn push_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '=' && !c.is_control());
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_value;

    #[test]
    fn values_are_quoted_only_when_needed() {
        let mut out = String::new();
        push_value(&mut out, "plain");
        push_value(&mut out, " ");
        push_value(&mut out, "a \"b\"\n");
        assert_eq!(out, "plain\" \"\"a \\\"b\\\"\\n\"");
    }
}
