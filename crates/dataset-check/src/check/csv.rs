//! CSV through `csv-core`, the push parser under the `csv` crate: it writes each record into a buffer we size
//! from the contract, so a record that would not fit is dropped as it streams by instead of growing a buffer.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader};

use super::tally::{Field, Rule, Sink};
use super::{CHUNK, Stop};
use crate::contract::Contract;

/// More fields than any sane row has; a row with more is reported as ragged.
const MAX_FIELDS: usize = 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column positions found in the header.
struct Columns {
    count: usize,
    text: usize,
    label: usize,
}

pub(super) fn parse(
    input: impl Read,
    contract: &Contract,
    tally: &mut impl Sink,
) -> Result<(), Stop> {
    // csv-core skips a leading BOM itself, but a first read that is the BOM alone leaves it an empty input,
    // which it takes for the end of the file: the BOM is removed before csv-core sees a byte.
    let mut input = WithoutBom::new(input);
    let mut reader = Reader::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut out = vec![0u8; contract.max_record_bytes()];
    let mut ends = vec![0usize; MAX_FIELDS];
    let (mut outlen, mut endlen) = (0usize, 0usize);
    // Set once the current record overflowed a buffer: its bytes are being discarded.
    let mut overflow: Option<Rule> = None;
    let mut columns: Option<Columns> = None;
    // The end of input takes two calls: a probe newline, then the empty input csv-core reads as the end.
    let mut stage = Stage::Reading;
    // The probe newline landed inside a field: a quoted field was still open at the end of the file.
    let mut unterminated = false;
    // csv-core accepts text after a closing quote (`"a"b`) silently; this watches the same bytes for it.
    let mut quotes = QuoteWatch::default();

    loop {
        let mut data: &[u8] = match stage {
            Stage::Reading => {
                let filled = input.read(&mut chunk).map_err(Stop::Read)?;
                if filled == 0 {
                    stage = Stage::Probe;
                    b"\n"
                } else {
                    &chunk[..filled]
                }
            }
            Stage::Probe => {
                stage = Stage::Last;
                b""
            }
            Stage::Last => return Ok(()),
        };
        let probing = stage == Stage::Probe;
        let last = stage == Stage::Last;
        loop {
            // csv-core reads empty input as the end of the file: only pass it one at the real end.
            if data.is_empty() && !last {
                break;
            }
            let (result, nin, nout, nend) =
                reader.read_record(data, &mut out[outlen..], &mut ends[endlen..]);
            quotes.scan(&data[..nin]);
            data = &data[nin..];
            outlen += nout;
            endlen += nend;
            match result {
                ReadRecordResult::InputEmpty => {
                    // A newline at a record boundary is a blank line (no output); inside an open quoted
                    // field it becomes field content.
                    unterminated |= probing && nout > 0;
                    break;
                }
                ReadRecordResult::OutputFull => {
                    overflow = Some(Rule::RecordTooLong);
                    outlen = 0;
                }
                ReadRecordResult::OutputEndsFull => {
                    overflow.get_or_insert(Rule::RaggedRow);
                    endlen = 0;
                }
                ReadRecordResult::Record => {
                    let quoting = match (unterminated && last, quotes.take()) {
                        (true, _) => Quoting::Unterminated,
                        (false, true) => Quoting::TextAfterClosingQuote,
                        (false, false) => Quoting::Clean,
                    };
                    let unterminated = unterminated && last;
                    let record = Record {
                        bytes: &out[..outlen],
                        ends: &ends[..endlen],
                    };
                    match (&columns, overflow.take()) {
                        (None, Some(_)) => {
                            return Err(Stop::Data(
                                "the CSV header row is too long or has too many columns".to_owned(),
                            ));
                        }
                        (None, None) => columns = Some(header(&record, contract)?),
                        (Some(columns), overflow) => {
                            row(&record, columns, overflow, quoting, contract, tally)
                        }
                    }
                    if unterminated {
                        tally.fatal(format!(
                            "unterminated quote: the quoted field opened in row {} runs to the end of the file",
                            tally.rows()
                        ));
                    }
                    outlen = 0;
                    endlen = 0;
                }
                // No header at all (an empty file) and a header without rows both show in the row count.
                ReadRecordResult::End => return Ok(()),
            }
        }
    }
}

/// How a record's quotes were.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// Well formed.
    Clean,
    /// A quoted field still open at the end of the file.
    Unterminated,
    /// Text followed a closing quote before the delimiter or the end of the row.
    TextAfterClosingQuote,
}

/// Watches the bytes csv-core consumes for text after a closing quote, which csv-core appends to the field
/// without a word. Hand-written because csv-core, the parser the project streams through, has no strict mode.
#[derive(Default)]
struct QuoteWatch {
    state: QuoteState,
    /// Text followed a closing quote in the record being read.
    damaged: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    #[default]
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: an escaped quote (`""`) or the closing one.
    QuoteInQuoted,
}

impl QuoteWatch {
    /// Follows `bytes`, jumping with memchr through the inside of fields (where only a quote, or the end of
    /// the field, changes anything), so the watch costs little beside the parse.
    fn scan(&mut self, mut bytes: &[u8]) {
        while let Some((&b, rest)) = bytes.split_first() {
            bytes = match self.state {
                QuoteState::Quoted => match memchr::memchr(b'"', bytes) {
                    Some(i) => {
                        self.state = QuoteState::QuoteInQuoted;
                        &bytes[i + 1..]
                    }
                    None => return,
                },
                QuoteState::Unquoted => match memchr::memchr3(b',', b'\n', b'\r', bytes) {
                    Some(i) => {
                        self.state = QuoteState::FieldStart;
                        &bytes[i + 1..]
                    }
                    None => return,
                },
                QuoteState::FieldStart | QuoteState::QuoteInQuoted => {
                    self.step(b);
                    rest
                }
            };
        }
    }

    fn step(&mut self, b: u8) {
        self.state = match (self.state, b) {
            (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
            (QuoteState::Quoted, _) => QuoteState::Quoted,
            (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
            (_, b',' | b'\n' | b'\r') => QuoteState::FieldStart,
            (QuoteState::FieldStart, b'"') => QuoteState::Quoted,
            (QuoteState::QuoteInQuoted, _) => {
                self.damaged = true;
                QuoteState::Unquoted
            }
            (QuoteState::FieldStart | QuoteState::Unquoted, _) => QuoteState::Unquoted,
        };
    }

    /// Whether the record just read was damaged; starts the next one clean.
    fn take(&mut self) -> bool {
        std::mem::take(&mut self.damaged)
    }
}

/// A reader that drops a UTF-8 byte-order mark at the start of its input, however the bytes arrive.
struct WithoutBom<R> {
    inner: R,
    /// The first bytes, read ahead to look for the mark, not handed out yet.
    head: Vec<u8>,
    started: bool,
}

impl<R: Read> WithoutBom<R> {
    fn new(inner: R) -> Self {
        WithoutBom {
            inner,
            head: Vec::new(),
            started: false,
        }
    }
}

impl<R: Read> Read for WithoutBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            let mut first = [0u8; 3];
            let mut got = 0;
            while got < first.len() {
                match self.inner.read(&mut first[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            self.started = true;
            if first[..got] != *BOM {
                self.head.extend_from_slice(&first[..got]);
            }
        }
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Where the parser is in the input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Feeding the source's bytes.
    Reading,
    /// The source is exhausted; a newline was fed to see whether a quoted field is still open.
    Probe,
    /// The empty input that tells csv-core the input ended.
    Last,
}

/// One parsed record: field bytes back to back, and where each ends.
struct Record<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    fn field(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

fn header(record: &Record<'_>, contract: &Contract) -> Result<Columns, Stop> {
    let names: Vec<&str> = (0..record.ends.len())
        .map(|i| {
            let field = record.field(i);
            // A byte-order mark can only precede the first header field; strip it there, whatever the chunking.
            let field = if i == 0 {
                field.strip_prefix(BOM).unwrap_or(field)
            } else {
                field
            };
            simdutf8::basic::from_utf8(field)
                .map(str::trim)
                .map_err(|_| Stop::Data("the CSV header row is not UTF-8 text".to_owned()))
        })
        .collect::<Result<_, _>>()?;
    for wanted in [&contract.text_field, &contract.label_field] {
        if names.iter().filter(|n| **n == wanted.as_str()).count() > 1 {
            return Err(Stop::Data(format!(
                "the CSV header names the column {wanted:?} more than once: which one holds the data is ambiguous"
            )));
        }
    }
    let find = |wanted: &str| names.iter().position(|n| *n == wanted);
    match (find(&contract.text_field), find(&contract.label_field)) {
        (Some(text), Some(label)) => Ok(Columns {
            count: names.len(),
            text,
            label,
        }),
        (text, label) => {
            let missing: Vec<&str> = [
                (text, contract.text_field.as_str()),
                (label, contract.label_field.as_str()),
            ]
            .into_iter()
            .filter(|(found, _)| found.is_none())
            .map(|(_, name)| name)
            .collect();
            let mut shown: Vec<String> = names
                .iter()
                .take(10)
                .map(|n| crate::report::cut_value(n))
                .collect();
            if names.len() > 10 {
                shown.push("…".to_owned());
            }
            Err(Stop::Data(format!(
                "the CSV header lacks the column(s) {} (found: {})",
                missing.join(", "),
                shown.join(", ")
            )))
        }
    }
}

fn row(
    record: &Record<'_>,
    columns: &Columns,
    overflow: Option<Rule>,
    quoting: Quoting,
    contract: &Contract,
    tally: &mut impl Sink,
) {
    match quoting {
        Quoting::Clean => {}
        Quoting::Unterminated => {
            return tally.broken_row(
                Rule::Unparsable,
                "unterminated quoted field".to_owned(),
                None,
            );
        }
        Quoting::TextAfterClosingQuote => {
            // Most often a quote left open in an earlier row: the rows in between were read as one field.
            let shown = String::from_utf8_lossy(record.bytes);
            return tally.broken_row(
                Rule::Unparsable,
                "text after a closing quote (a quote left open merges the rows that follow into one field)"
                    .to_owned(),
                Some(&shown),
            );
        }
    }
    match overflow {
        Some(Rule::RecordTooLong) => {
            return tally.broken_row(
                Rule::RecordTooLong,
                format!(
                    "longer than {} bytes, more than any valid row can be",
                    contract.max_record_bytes()
                ),
                None,
            );
        }
        Some(_) => {
            return tally.broken_row(
                Rule::RaggedRow,
                format!(
                    "more than {MAX_FIELDS} fields, the header has {}",
                    columns.count
                ),
                None,
            );
        }
        None => {}
    }
    if record.ends.len() != columns.count {
        // A blank line parses as one empty field: skip it rather than report a ragged row.
        if record.ends.len() == 1 && record.bytes.is_empty() {
            return;
        }
        return tally.broken_row(
            Rule::RaggedRow,
            format!(
                "{} fields, the header has {}",
                record.ends.len(),
                columns.count
            ),
            None,
        );
    }
    // UTF-8 is required of the whole file: every field, not only the two the contract reads.
    if let Some(i) =
        (0..record.ends.len()).find(|&i| simdutf8::basic::from_utf8(record.field(i)).is_err())
    {
        let field = format!("column {}", i + 1);
        return not_utf8(tally, &field, record.field(i));
    }
    let (text, label) = (record.field(columns.text), record.field(columns.label));
    match (
        simdutf8::basic::from_utf8(text),
        simdutf8::basic::from_utf8(label),
    ) {
        (Ok(text), Ok(label)) => tally.row(Field::Str(text), Field::Str(label)),
        (Err(_), _) => not_utf8(tally, &contract.text_field, text),
        (_, Err(_)) => not_utf8(tally, &contract.label_field, label),
    }
}

fn not_utf8(tally: &mut impl Sink, field: &str, bytes: &[u8]) {
    tally.broken_row(
        Rule::NotUtf8,
        format!("the {field} field is not UTF-8 (Latin-1 or binary?)"),
        Some(&String::from_utf8_lossy(bytes)),
    );
}
