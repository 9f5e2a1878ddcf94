use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

mod line;

/// How long a log line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A buffer this full is written at once.
const FLUSH_AT: usize = 64 * 1024;

static BUFFER: OnceLock<LogBuffer> = OnceLock::new();

/// Logs to stderr; `RUST_LOG` refines the level (default `info`).
///
/// There is a line per request, and a phone boot storm is tens of thousands of requests a
/// second: lines are collected in memory and written by a background thread every 100 ms
/// (or at 64 KiB), so a request costs no write system call of its own. Warnings and errors
/// are written at once, with whatever was buffered before them; [`flush`] writes the rest
/// before the process exits.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let buffer = BUFFER.get_or_init(LogBuffer::start).clone();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(buffer)
        .with_ansi(io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.event_format(line::LineFormat).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Writes buffered log lines now (before exiting).
pub fn flush() {
    if let Some(buffer) = BUFFER.get() {
        buffer.shared.write_out();
    }
}

#[derive(Clone)]
struct LogBuffer {
    shared: Arc<Shared>,
}

struct Shared {
    lines: Mutex<Vec<u8>>,
    full: Condvar,
    /// Held while writing to stderr, so flushes from several threads keep lines in order.
    output: Mutex<()>,
}

impl LogBuffer {
    fn start() -> Self {
        let shared = Arc::new(Shared {
            lines: Mutex::new(Vec::with_capacity(FLUSH_AT)),
            full: Condvar::new(),
            output: Mutex::new(()),
        });
        let flusher = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    let lines = flusher.lock_lines();
                    let (lines, _) = flusher
                        .full
                        .wait_timeout(lines, FLUSH_EVERY)
                        .unwrap_or_else(PoisonError::into_inner);
                    drop(lines);
                    flusher.write_out();
                }
            });
        if let Err(err) = spawned {
            eprintln!(
                "signpost: cannot start the log writer thread ({err}); logs are written at shutdown"
            );
        }
        Self { shared }
    }
}

impl Shared {
    fn lock_lines(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while appending leaves at worst a partial line: still worth writing.
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_out(&self) {
        let _order = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = std::mem::replace(&mut *self.lock_lines(), Vec::with_capacity(FLUSH_AT));
        if !pending.is_empty() {
            // Nowhere to report a failed write of the log itself.
            let _ = io::stderr().write_all(&pending);
        }
    }
}

/// One event's writer: appends to the buffer; `urgent` events (warnings, errors) are
/// written out as soon as they are complete.
struct LineWriter<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut lines = self.shared.lock_lines();
        lines.extend_from_slice(bytes);
        if lines.len() >= FLUSH_AT {
            self.shared.full.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.urgent {
            self.shared.write_out();
        }
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_in_order_until_written() {
        let buffer = LogBuffer {
            shared: Arc::new(Shared {
                lines: Mutex::new(Vec::new()),
                full: Condvar::new(),
                output: Mutex::new(()),
            }),
        };
        let mut first = buffer.make_writer();
        first.write_all(b"one\n").unwrap();
        drop(first);
        buffer.make_writer().write_all(b"two\n").unwrap();
        assert_eq!(&*buffer.shared.lock_lines(), b"one\ntwo\n");
        buffer.shared.write_out();
        assert!(buffer.shared.lock_lines().is_empty());
    }
}
