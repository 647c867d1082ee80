//! One check on two cores: this thread reads, decompresses and parses, another applies the row rules and
//! totals, so a large file takes the time of the slower half instead of the sum.
//!
//! The parser writes into a [`Recorder`], a [`Sink`] that copies each call (its fields into one string) into a
//! batch; full batches go over a bounded channel to the thread that replays them, in order, into the real sink.
//! The real sink therefore sees exactly the calls, in exactly the order, it would have seen inline: the report
//! is the same by construction, and a test holds the two to it. CSV rows travel as their raw bytes: the rules
//! thread checks a whole batch of them as UTF-8 in one call, work that would otherwise fall to the parsing
//! thread, the busier of the two. Memory stays bounded: a batch holds at most [`BATCH_BYTES`] (or one row, when
//! a row alone is larger) and at most [`IN_FLIGHT`] batches wait.
//!
//! Hand-written over `std::sync::mpsc` and scoped threads: the work is one producer, one consumer and in-order
//! replay, which a thread pool or a channel crate would add a dependency for without making faster.

use std::ops::Range;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::csv::{CsvSink, Record, Starts, checked_text, deliver};
use super::tally::{Field, Rule, Sink, Tally};

/// A batch is handed over once its bytes reach this size: large enough that the rules thread, woken once per
/// batch, seldom sleeps and wakes (a wake-up costs microseconds in a virtual machine); 256 KiB measured fastest
/// of 16 KiB to 1 MiB on 200 MB of CSV and of JSON Lines. Unit tests hand over every few rows, so batch edges
/// fall everywhere.
const BATCH_BYTES: usize = if cfg!(test) { 200 } else { 256 * 1024 };
/// … or once it holds this many calls (rows of empty fields take no bytes).
const BATCH_CALLS: usize = if cfg!(test) { 5 } else { 8192 };
/// Full batches waiting for the rules; the parser waits once this many are queued.
const IN_FLIGHT: usize = 4;

/// Lambda's memory setting (MB) from which a function has two vCPUs' worth of time: Lambda allots CPU in
/// proportion to memory, one vCPU's worth at 1,769 MB.
const LAMBDA_TWO_VCPUS_MB: u64 = 2 * 1_769;

/// Whether a second core is there to apply the rules. Two threads cost more CPU in all (on 200 MB of CSV, 205 ms
/// against 174 ms on one; the copies and the hand-over), which pays only when a second core runs them at once:
/// not on a machine with one core, and not in a Lambda function with less than two vCPUs' worth of time, where
/// the guest still shows two processors but the two threads would share the time of one (validate-ingest has
/// 1,024 MB).
pub(super) fn worthwhile() -> bool {
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let lambda_mb = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            .ok()
            .and_then(|mb| mb.parse::<u64>().ok());
        two_threads(cores, lambda_mb)
    })
}

/// [`worthwhile`] for `cores` processors and, in Lambda, a memory setting of `lambda_mb`.
fn two_threads(cores: usize, lambda_mb: Option<u64>) -> bool {
    cores > 1 && lambda_mb.is_none_or(|mb| mb >= LAMBDA_TWO_VCPUS_MB)
}

/// Runs `parse` on this thread with a [`Recorder`] while another thread replays what it records into `sink`;
/// returns what `parse` returns once `sink` has seen every call.
pub(super) fn pipelined<T>(sink: &mut Tally<'_>, parse: impl FnOnce(&mut Recorder) -> T) -> T {
    let (full_tx, full_rx) = sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(IN_FLIGHT + 2);
    let rows = sink.rows();
    std::thread::scope(|scope| {
        let rules = scope.spawn(move || {
            for mut batch in full_rx {
                batch.replay(sink);
                batch.clear();
                // Returned for reuse, so batches are allocated once; dropped if the parser has all it needs.
                let _ = empty_tx.try_send(batch);
            }
        });
        let mut recorder = Recorder {
            batch: Batch::default(),
            rows,
            full: Some(full_tx),
            empty: empty_rx,
        };
        let out = parse(&mut recorder);
        recorder.hand_over();
        // Hanging up ends the rules thread's loop once it has replayed the last batch.
        recorder.full = None;
        match rules.join() {
            Ok(()) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A field held in a batch: a string as its place in the batch's text.
enum Held {
    Str(Range<usize>),
    Null,
    Missing,
    NotString(&'static str),
}

/// One [`Sink`] or [`CsvSink`] call.
enum Call {
    Row(Held, Held),
    /// A CSV row: its bytes at `at` in the batch's raw bytes, its fields' spans at `fields` in `starts` and
    /// `ends`, and its text and label columns.
    Csv {
        at: usize,
        len: usize,
        fields: Range<usize>,
        text: usize,
        label: usize,
    },
    BrokenRow(Rule, String, Option<Range<usize>>),
    Fatal(String),
}

/// Calls in order, with the strings they carry back to back in `text` and the CSV rows' bytes in `raw`.
#[derive(Default)]
struct Batch {
    text: String,
    /// CSV rows, each followed by a newline: a character cut at a row's end or start stays invalid, so the
    /// whole is valid UTF-8 exactly when every row is.
    raw: Vec<u8>,
    starts: Vec<usize>,
    ends: Vec<usize>,
    calls: Vec<Call>,
}

impl Batch {
    fn hold(&mut self, field: Field<'_>) -> Held {
        match field {
            Field::Str(s) => Held::Str(self.keep(s)),
            Field::Null => Held::Null,
            Field::Missing => Held::Missing,
            Field::NotString(kind) => Held::NotString(kind),
        }
    }

    fn keep(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    fn full(&self) -> bool {
        self.text.len() + self.raw.len() >= BATCH_BYTES || self.calls.len() >= BATCH_CALLS
    }

    /// Makes every call, in order, on `sink`.
    fn replay(&mut self, sink: &mut impl Sink) {
        // One UTF-8 check for every CSV row in the batch; if it fails, each row is checked on its own.
        let checked = checked_text(&self.raw);
        for call in self.calls.drain(..) {
            match call {
                Call::Row(text, label) => {
                    sink.row(field_of(&self.text, &text), field_of(&self.text, &label));
                }
                Call::Csv {
                    at,
                    len,
                    fields,
                    text,
                    label,
                } => {
                    let record = Record {
                        bytes: &self.raw[at..at + len],
                        ends: &self.ends[fields.clone()],
                        starts: Starts::At(&self.starts[fields]),
                        text: checked.get(at..at + len),
                    };
                    deliver(&record, text, label, sink);
                }
                Call::BrokenRow(rule, detail, value) => {
                    sink.broken_row(rule, detail, value.map(|r| &self.text[r]));
                }
                Call::Fatal(reason) => sink.fatal(reason),
            }
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.raw.clear();
        self.starts.clear();
        self.ends.clear();
        self.calls.clear();
    }
}

/// The field `held` stands for, in `text`.
fn field_of<'t>(text: &'t str, held: &Held) -> Field<'t> {
    match held {
        Held::Str(range) => Field::Str(&text[range.clone()]),
        Held::Null => Field::Null,
        Held::Missing => Field::Missing,
        Held::NotString(kind) => Field::NotString(kind),
    }
}

/// The parser's sink in a pipelined check: records each call and hands full batches to the rules thread.
pub(super) struct Recorder {
    batch: Batch,
    /// Rows recorded, counted as [`Tally`] counts them (every row, broken or not), for the parser's messages.
    rows: u64,
    /// `None` once the last batch is handed over.
    full: Option<SyncSender<Batch>>,
    empty: Receiver<Batch>,
}

impl Recorder {
    /// Sends the batch being filled, if it holds anything, and starts a recycled or new one.
    fn hand_over(&mut self) {
        if self.batch.calls.is_empty() {
            return;
        }
        // A batch the rules thread has returned, or a new one while it still holds them all.
        let next = self.empty.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if let Some(full) = &self.full {
            // Fails only if the rules thread panicked; joining it reports that panic.
            let _ = full.send(batch);
        }
    }

    fn record(&mut self, call: Call) {
        self.batch.calls.push(call);
        if self.batch.full() {
            self.hand_over();
        }
    }
}

impl Sink for Recorder {
    #[inline]
    fn row(&mut self, text: Field<'_>, label: Field<'_>) {
        self.rows += 1;
        let text = self.batch.hold(text);
        let label = self.batch.hold(label);
        self.record(Call::Row(text, label));
    }

    fn broken_row(&mut self, rule: Rule, detail: String, value: Option<&str>) {
        self.rows += 1;
        let value = value.map(|v| self.batch.keep(v));
        self.record(Call::BrokenRow(rule, detail, value));
    }

    fn fatal(&mut self, reason: String) {
        self.record(Call::Fatal(reason));
    }

    fn rows(&self) -> u64 {
        self.rows
    }
}

impl CsvSink for Recorder {
    const DEFERS_UTF8: bool = true;

    #[inline]
    fn csv_row(&mut self, record: &Record<'_>, text: usize, label: usize) {
        // `deliver` makes exactly one call for the row: a row, or a broken row.
        self.rows += 1;
        let batch = &mut self.batch;
        let at = batch.raw.len();
        batch.raw.extend_from_slice(record.bytes);
        batch.raw.push(b'\n');
        let first = batch.ends.len();
        for i in 0..record.ends.len() {
            let span = record.span(i);
            batch.starts.push(span.start);
            batch.ends.push(span.end);
        }
        let fields = first..batch.ends.len();
        self.record(Call::Csv {
            at,
            len: record.bytes.len(),
            fields,
            text,
            label,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::two_threads;

    #[test]
    fn two_threads_only_where_two_cores_run_them() {
        for (cores, lambda_mb, expected) in [
            (1, None, false),
            (2, None, true),
            (8, None, true),
            (2, Some(128), false),
            (2, Some(1_024), false),
            (2, Some(1_769), false),
            (2, Some(3_537), false),
            (2, Some(3_538), true),
            (6, Some(10_240), true),
            (1, Some(10_240), false),
        ] {
            assert_eq!(
                two_threads(cores, lambda_mb),
                expected,
                "{cores} cores, {lambda_mb:?} MB"
            );
        }
    }
}
