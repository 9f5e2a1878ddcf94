//! The text log line, written without the general-purpose formatter's detours.
//!
//! The shape is tracing-subscriber's default without colours:
//! `2026-11-26T14:52:00.123456Z  INFO signpost::http: request method=GET status=200`.
//! The default formatter wraps every field name and separator in a (here empty) terminal
//! style and formats the whole timestamp for every line; at a line per phone request that
//! was a sixth of the redirect path's instructions (callgrind). This one writes the parts
//! directly and formats the date and time once per second.

use std::cell::RefCell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use signpost_domain::Timestamp;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Default, Clone, Copy)]
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
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
        write_now(&mut writer)?;
        writer.write_str(level_column(*meta.level()))?;
        writer.write_str(meta.target())?;
        writer.write_char(':')?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// The level, right-aligned in five columns, between single spaces.
fn level_column(level: Level) -> &'static str {
    match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ` in UTC; the part up to the seconds is formatted once a second
/// per thread.
fn write_now(writer: &mut Writer<'_>) -> fmt::Result {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            let millis = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
            let mut formatted = Timestamp::from_unix_millis(millis).to_rfc3339();
            // "…T06:23:02.000Z": keep up to the seconds.
            formatted.truncate(formatted.len().saturating_sub(5));
            *text = formatted;
            *cached = seconds;
        }
        writer.write_str(text)
    })?;
    write!(writer, ".{:06}Z", since_epoch.subsec_micros())
}

/// Writes ` message name=value …`: the message bare, strings quoted (as the default format
/// does, so a value with spaces stays one field), everything else as it formats itself.
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        // The separator and the name go out as plain strings: through `write!` each field
        // took another round of the formatting machinery, at every line.
        self.result = self.writer.write_char(' ').and_then(|()| {
            if field.name() != "message" {
                self.writer.write_str(field.name())?;
                self.writer.write_char('=')?;
            }
            match value.as_str() {
                Some(text) => self.writer.write_str(text),
                None => self.writer.write_fmt(value),
            }
        });
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, format_args!("{value}"));
        } else {
            self.field(field, format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(emit: impl FnOnce()) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .event_format(LineFormat)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_line_has_time_level_target_message_and_fields() {
        let path = "/snomD785.htm";
        let line = logged(|| {
            tracing::info!(target: "signpost::http", method = %"GET", path, status = 200u16, micros = 85u64, ok = true, "request");
        });
        let (time, rest) = line.split_once(' ').unwrap();
        assert_eq!(
            rest,
            " INFO signpost::http: request method=GET path=\"/snomD785.htm\" status=200 micros=85 ok=true\n"
        );
        // 2026-11-26T14:52:00.123456Z
        assert_eq!(time.len(), 27, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T' && time.as_bytes()[19] == b'.');
    }

    #[test]
    fn warnings_and_errors_keep_their_column_and_quote_strings() {
        let line = logged(|| {
            let err = io::Error::other("disk full");
            tracing::warn!(reason = "a b", %err, "cannot write");
        });
        assert!(
            line.ends_with("  WARN signpost::telemetry::line::tests: cannot write reason=\"a b\" err=disk full\n"),
            "{line}"
        );
    }
}
