//! CSV through `csv-core`, the push parser under the `csv` crate: it writes each record into a buffer we size
//! from the contract, so a record that would not fit is dropped as it streams by instead of growing a buffer.

use std::io::Read;

use csv_core::{ReadRecordResult, Reader};

use super::tally::{Field, RowCounter, Rule, Sink, Tally};
use super::{CHUNK, Stop};
use crate::contract::Contract;

/// What the CSV parser asks of a sink beyond [`Sink`]: to take rows whose UTF-8 is still to be checked.
pub(super) trait CsvSink: Sink + Sized {
    /// Whether [`CsvSink::csv_row`] leaves UTF-8 to be checked later: the parser then validates no chunk itself.
    const DEFERS_UTF8: bool = false;

    /// A data row of sound quoting and shape; `text` and `label` are its columns. Checked (UTF-8, then the
    /// row rules) at once by default; the pipelined check's recorder hands it to the rules thread instead,
    /// which checks a whole batch of rows in one UTF-8 call.
    fn csv_row(&mut self, record: &Record<'_>, text: usize, label: usize) {
        deliver(record, text, label, self);
    }
}

impl CsvSink for Tally<'_> {}
impl CsvSink for RowCounter {}

/// More fields than any sane row has; a row with more is reported as ragged.
const MAX_FIELDS: usize = 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Column positions found in the header.
struct Columns {
    count: usize,
    text: usize,
    label: usize,
}

/// Reads CSV from `input`: the header names the contract's columns, every row after it goes to `tally`.
pub(super) fn parse(
    input: impl Read,
    contract: &Contract,
    tally: &mut impl CsvSink,
) -> Result<(), Stop> {
    parse_with(input, contract, tally, Path::Fast)
}

/// How records are read: csv-core for every record, or a fast path for the plain ones ([`Records::plain`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    /// csv-core reads every record: the reference the fast path is tested against.
    #[cfg_attr(not(test), allow(dead_code))]
    CsvCore,
    /// Plain records (no quote, whole in the chunk) are split with memchr; csv-core reads the others.
    Fast,
}

fn parse_with(
    input: impl Read,
    contract: &Contract,
    tally: &mut impl CsvSink,
    path: Path,
) -> Result<(), Stop> {
    // csv-core skips a leading BOM itself, but a first read that is the BOM alone leaves it an empty input,
    // which it takes for the end of the file: the BOM is removed before csv-core sees a byte.
    let mut input = WithoutBom::new(input);
    let mut chunk = vec![0u8; CHUNK];
    let mut records = Records::new(contract, tally, path);
    // The end of input takes two calls: a probe newline, then the empty input csv-core reads as the end.
    let mut stage = Stage::Reading;
    loop {
        let data: &[u8] = match stage {
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
        // No header at all (an empty file) and a header without rows both show in the row count.
        if records.feed(data, stage)? {
            return Ok(());
        }
    }
}

/// What the parse carries from one csv-core call to the next: the record being assembled, the header's
/// columns once read, and the quoting seen so far.
struct Records<'a, S> {
    contract: &'a Contract,
    tally: &'a mut S,
    reader: Reader,
    /// The current record's field bytes, sized from the contract.
    out: Vec<u8>,
    /// Where each of the current record's fields ends in `out`.
    ends: Vec<usize>,
    /// Where each field starts, for the records the fast path splits.
    starts: Vec<usize>,
    outlen: usize,
    endlen: usize,
    /// Set once the current record overflowed a buffer: its bytes are being discarded.
    overflow: Option<Rule>,
    columns: Option<Columns>,
    /// The probe newline landed inside a field: a quoted field was still open at the end of the file.
    unterminated: bool,
    /// csv-core accepts text after a closing quote (`"a"b`) silently; this watches the same bytes for it.
    quotes: QuoteWatch,
    path: Path,
    /// csv-core stands between two records (its last answer was a record), so a plain record may be split
    /// without it.
    between: bool,
}

impl<'a, S: CsvSink> Records<'a, S> {
    /// Empty buffers for records of a file checked against `contract`.
    fn new(contract: &'a Contract, tally: &'a mut S, path: Path) -> Self {
        Records {
            contract,
            tally,
            reader: Reader::new(),
            out: vec![0u8; contract.max_record_bytes()],
            ends: vec![0usize; MAX_FIELDS],
            starts: vec![0usize; MAX_FIELDS],
            outlen: 0,
            endlen: 0,
            overflow: None,
            columns: None,
            unterminated: false,
            quotes: QuoteWatch::default(),
            path,
            // csv-core reads the first record itself: only at the start of a file does it drop a byte-order
            // mark, so the fast path must not read what it would have started with.
            between: false,
        }
    }

    /// Feeds one input of `stage` to csv-core and handles every record it completes; true once csv-core has
    /// read the end of the file.
    #[inline]
    fn feed(&mut self, mut data: &[u8], stage: Stage) -> Result<bool, Stop> {
        let probing = stage == Stage::Probe;
        let last = stage == Stage::Last;
        let fast = self.path == Path::Fast && stage == Stage::Reading;
        let checked = if fast && !S::DEFERS_UTF8 {
            checked_text(data)
        } else {
            ""
        };
        let whole = data.len();
        loop {
            if self.between && fast {
                data = self.plain(data, checked, whole - data.len())?;
            }
            // csv-core reads empty input as the end of the file: only pass it one at the real end.
            if data.is_empty() && !last {
                return Ok(false);
            }
            // Until csv-core answers with a record, it may be inside one: the fast path waits for it.
            self.between = false;
            let (result, nin, nout, nend) = self.reader.read_record(
                data,
                &mut self.out[self.outlen..],
                &mut self.ends[self.endlen..],
            );
            self.quotes.scan(&data[..nin]);
            data = &data[nin..];
            self.outlen += nout;
            self.endlen += nend;
            match result {
                ReadRecordResult::InputEmpty => {
                    // A newline at a record boundary is a blank line (no output); inside an open quoted
                    // field it becomes field content.
                    self.unterminated |= probing && nout > 0;
                    return Ok(false);
                }
                ReadRecordResult::OutputFull => {
                    self.overflow = Some(Rule::RecordTooLong);
                    self.outlen = 0;
                }
                ReadRecordResult::OutputEndsFull => {
                    self.overflow.get_or_insert(Rule::RaggedRow);
                    self.endlen = 0;
                }
                ReadRecordResult::Record => {
                    self.record(last)?;
                    self.between = true;
                }
                ReadRecordResult::End => return Ok(true),
            }
        }
    }

    /// Takes the record csv-core just completed as the header or a data row, then empties the buffers for the
    /// next; at the end of the file it also reports a quoted field left open.
    #[inline]
    fn record(&mut self, last: bool) -> Result<(), Stop> {
        let unterminated = self.unterminated && last;
        let quoting = match (unterminated, self.quotes.take()) {
            (true, _) => Quoting::Unterminated,
            (false, true) => Quoting::TextAfterClosingQuote,
            (false, false) => Quoting::Clean,
        };
        let record = Record {
            bytes: &self.out[..self.outlen],
            ends: &self.ends[..self.endlen],
            starts: Starts::BackToBack,
            text: None,
        };
        let overflow = self.overflow.take();
        take(
            &record,
            overflow,
            quoting,
            &mut self.columns,
            self.contract,
            self.tally,
        )?;
        if unterminated {
            self.tally.fatal(format!(
                "unterminated quote: the quoted field opened in row {} runs to the end of the file",
                self.tally.rows()
            ));
        }
        self.outlen = 0;
        self.endlen = 0;
        Ok(())
    }
}

impl<S: CsvSink> Records<'_, S> {
    /// Takes the plain records at the front of `data` without csv-core, exactly as csv-core would read them:
    /// blank lines skipped; fields split at commas; a field that opens with a quote runs to the next quote,
    /// which the delimiter or the terminator must follow; the record ended by `\n`, `\r` or `\r\n`. A record
    /// with anything else (an escaped quote `""`, text after a closing quote, no end within `data`, more than
    /// the buffers hold) is left to csv-core: returns the rest of `data`, from that record.
    ///
    /// `data` starts `at` bytes into the chunk whose valid UTF-8 text up to its last terminator is `checked`
    /// ([`checked_text`]): a record inside it needs no validation of its own.
    ///
    /// Hand-written because csv-core, a byte-at-a-time state machine, takes most of a check's time, and
    /// memchr's jumps split plain records several times faster; a test holds both to the same reports.
    #[inline]
    fn plain<'d>(
        &mut self,
        mut data: &'d [u8],
        checked: &'d str,
        mut at: usize,
    ) -> Result<&'d [u8], Stop> {
        loop {
            // Between records csv-core discards terminators (blank lines, the `\n` of a `\r\n`).
            let start = data
                .iter()
                .position(|&b| b != b'\n' && b != b'\r')
                .unwrap_or(data.len());
            data = &data[start..];
            at += start;
            let Some((end, fields)) = self.split(data) else {
                return Ok(data);
            };
            let record = Record {
                bytes: &data[..end],
                ends: &self.ends[..fields],
                starts: Starts::At(&self.starts[..fields]),
                text: checked.get(at..at + end),
            };
            take(
                &record,
                None,
                Quoting::Clean,
                &mut self.columns,
                self.contract,
                self.tally,
            )?;
            data = &data[end + 1..];
            at += end + 1;
        }
    }

    /// Splits the plain record `data` starts with into `starts` and `ends`: where its terminator is and how
    /// many fields it has, or none when csv-core must read it.
    #[inline]
    fn split(&mut self, data: &[u8]) -> Option<(usize, usize)> {
        let (mut at, mut fields, mut bytes) = (0, 0, 0);
        loop {
            // Room for this field with a slot to spare: a full buffer is csv-core's to report.
            if fields + 2 >= self.ends.len() {
                return None;
            }
            let (start, end, next) = if data.get(at) == Some(&b'"') {
                let open = at + 1;
                let close = open + memchr::memchr(b'"', data.get(open..)?)?;
                (open, close, close + 1)
            } else {
                let end = at + memchr::memchr3(b',', b'\n', b'\r', data.get(at..)?)?;
                (at, end, end)
            };
            self.starts[fields] = start;
            self.ends[fields] = end;
            fields += 1;
            bytes += end - start;
            match data.get(next) {
                Some(b',') => at = next + 1,
                // csv-core calls its record buffer full once the field bytes fill it.
                Some(b'\n' | b'\r') => return (bytes < self.out.len()).then_some((next, fields)),
                // An escaped quote, text after a closing quote, or the end of `data`.
                _ => return None,
            }
        }
    }
}

/// Takes one record csv-core or the fast path read: the header, or a data row for `tally`.
fn take(
    record: &Record<'_>,
    overflow: Option<Rule>,
    quoting: Quoting,
    columns: &mut Option<Columns>,
    contract: &Contract,
    tally: &mut impl CsvSink,
) -> Result<(), Stop> {
    match (&*columns, overflow) {
        (None, Some(_)) => Err(Stop::Data(
            "the CSV header row is too long or has too many columns".to_owned(),
        )),
        (None, None) => {
            *columns = Some(header(record, contract)?);
            Ok(())
        }
        (Some(columns), overflow) => {
            row(record, columns, overflow, quoting, contract, tally);
            Ok(())
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

/// The chunk `data` as text up to its last record terminator, or empty if that part is not UTF-8 (then each
/// record is validated on its own, which finds the row at fault). One call over the chunk costs a fraction of
/// one per record: simdutf8 runs at memory speed on long input, while on a 200-byte record its setup dominates.
/// Only whole records are covered: the chunk's last, partial one may end inside a character.
pub(super) fn checked_text(data: &[u8]) -> &str {
    memchr::memrchr2(b'\n', b'\r', data)
        .and_then(|last| simdutf8::basic::from_utf8(&data[..=last]).ok())
        .unwrap_or("")
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

/// One parsed record: its bytes, and where in them each field ends and starts.
pub(super) struct Record<'a> {
    /// The fields back to back as csv-core writes them, or the record as the file has it (the fast path).
    pub(super) bytes: &'a [u8],
    pub(super) ends: &'a [usize],
    pub(super) starts: Starts<'a>,
    /// `bytes` as text, when the chunk they lie in was validated as UTF-8 in one call.
    pub(super) text: Option<&'a str>,
}

/// Where a record's fields start.
pub(super) enum Starts<'a> {
    /// Where the one before ends (csv-core's output).
    BackToBack,
    /// At these offsets (between them lie delimiters and quotes).
    At(&'a [usize]),
}

impl<'a> Record<'a> {
    fn field(&self, i: usize) -> &'a [u8] {
        &self.bytes[self.span(i)]
    }

    /// Field `i` of `text`, the record's bytes already validated as UTF-8 (none if `i` does not start and end
    /// on character boundaries, which the caller has checked).
    fn str_field<'t>(&self, text: &'t str, i: usize) -> Option<&'t str> {
        text.get(self.span(i))
    }

    pub(super) fn span(&self, i: usize) -> std::ops::Range<usize> {
        let start = match self.starts {
            Starts::At(starts) => starts[i],
            Starts::BackToBack if i == 0 => 0,
            Starts::BackToBack => self.ends[i - 1],
        };
        start..self.ends[i]
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

/// Checks one data row: quoting, size and shape first, then UTF-8; a sound row's text and label go to the sink.
#[inline]
fn row(
    record: &Record<'_>,
    columns: &Columns,
    overflow: Option<Rule>,
    quoting: Quoting,
    contract: &Contract,
    tally: &mut impl CsvSink,
) {
    if broken_quoting(record, quoting, tally)
        || overflowed(columns, overflow, contract, tally)
        || off_shape(record, columns, tally)
    {
        return;
    }
    tally.csv_row(record, columns.text, columns.label);
}

/// Checks a row of sound shape as UTF-8 and hands its text and label (the columns named) to the sink, or reports
/// the first column that is not UTF-8.
#[inline]
pub(super) fn deliver(
    record: &Record<'_>,
    text_column: usize,
    label_column: usize,
    tally: &mut impl Sink,
) {
    // UTF-8 is required of the whole file: every field, not only the two the contract reads. The record's bytes
    // hold its fields back to back (csv-core's) or between ASCII quotes and commas (the fast path's), so one
    // validation covers them all, and each field must also end on a character boundary: a character split
    // across two fields is valid joined but in neither field.
    let Some(text) = record
        .text
        .or_else(|| simdutf8::basic::from_utf8(record.bytes).ok())
        .filter(|text| record.ends.iter().all(|&end| text.is_char_boundary(end)))
    else {
        return not_utf8_field(record, tally);
    };
    match (
        record.str_field(text, text_column),
        record.str_field(text, label_column),
    ) {
        (Some(text), Some(label)) => tally.row(Field::Str(text), Field::Str(label)),
        _ => not_utf8_field(record, tally),
    }
}

/// Reports the first field of a record that is not UTF-8 on its own, by its column number.
#[cold]
fn not_utf8_field(record: &Record<'_>, tally: &mut impl Sink) {
    let i = (0..record.ends.len())
        .find(|&i| simdutf8::basic::from_utf8(record.field(i)).is_err())
        .unwrap_or(0);
    not_utf8(tally, &format!("column {}", i + 1), record.field(i));
}

/// Reports the row as unparsable if its quotes were broken; says whether it did.
#[inline]
fn broken_quoting(record: &Record<'_>, quoting: Quoting, tally: &mut impl Sink) -> bool {
    match quoting {
        Quoting::Clean => return false,
        Quoting::Unterminated => {
            tally.broken_row(
                Rule::Unparsable,
                "unterminated quoted field".to_owned(),
                None,
            );
        }
        Quoting::TextAfterClosingQuote => {
            // Most often a quote left open in an earlier row: the rows in between were read as one field.
            let shown = String::from_utf8_lossy(record.bytes);
            tally.broken_row(
                Rule::Unparsable,
                "text after a closing quote (a quote left open merges the rows that follow into one field)"
                    .to_owned(),
                Some(&shown),
            );
        }
    }
    true
}

/// Reports the row if it overflowed the record or field buffers (and so was dropped); says whether it did.
#[inline]
fn overflowed(
    columns: &Columns,
    overflow: Option<Rule>,
    contract: &Contract,
    tally: &mut impl Sink,
) -> bool {
    match overflow {
        Some(Rule::RecordTooLong) => tally.broken_row(
            Rule::RecordTooLong,
            format!(
                "longer than {} bytes, more than any valid row can be",
                contract.max_record_bytes()
            ),
            None,
        ),
        Some(_) => tally.broken_row(
            Rule::RaggedRow,
            format!(
                "more than {MAX_FIELDS} fields, the header has {}",
                columns.count
            ),
            None,
        ),
        None => return false,
    }
    true
}

/// Reports the row as ragged if its field count differs from the header's, and skips a blank line; says
/// whether the row is done with.
#[inline]
fn off_shape(record: &Record<'_>, columns: &Columns, tally: &mut impl Sink) -> bool {
    if record.ends.len() == columns.count {
        return false;
    }
    // A blank line parses as one empty field: skip it rather than report a ragged row.
    if record.ends.len() == 1 && record.field(0).is_empty() {
        return true;
    }
    tally.broken_row(
        Rule::RaggedRow,
        format!(
            "{} fields, the header has {}",
            record.ends.len(),
            columns.count
        ),
        None,
    );
    true
}

fn not_utf8(tally: &mut impl Sink, field: &str, bytes: &[u8]) {
    tally.broken_row(
        Rule::NotUtf8,
        format!("the {field} field is not UTF-8 (Latin-1 or binary?)"),
        Some(&String::from_utf8_lossy(bytes)),
    );
}

#[cfg(test)]
mod tests {
    use super::super::tally::Tally;
    use super::*;
    use crate::report::Report;

    /// Hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn report(data: &[u8], contract: &Contract, path: Path, step: usize) -> Report {
        let mut tally = Tally::new(contract);
        if let Err(Stop::Data(reason)) =
            parse_with(Trickle { data, step }, contract, &mut tally, path)
        {
            tally.fatal(reason);
        }
        finish(tally, data)
    }

    /// [`report`] with the fast path and the rules on a second thread, in batches of a few rows.
    fn pipelined_report(data: &[u8], contract: &Contract, step: usize) -> Report {
        let mut tally = Tally::new(contract);
        super::super::pipeline::pipelined(&mut tally, |recorder| {
            if let Err(Stop::Data(reason)) =
                parse_with(Trickle { data, step }, contract, recorder, Path::Fast)
            {
                recorder.fatal(reason);
            }
        });
        finish(tally, data)
    }

    fn finish(tally: Tally<'_>, data: &[u8]) -> Report {
        let size = data.len() as u64;
        tally.finish("x.csv", Some("csv"), "none", size, size)
    }

    /// xorshift64*: reproducible mutations.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
        }
    }

    const INTERESTING: [&[u8]; 10] = [
        b"\"",
        b",",
        b"\n",
        b"\r",
        b"\r\n",
        b"\"\"",
        b"\xC3",
        b"\xFF",
        b"\n\n",
        b"\xEF\xBB\xBF",
    ];

    fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut data = seed.to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(data.len() + 1);
            match rng.below(3) {
                0 if at < data.len() => {
                    data.remove(at);
                }
                1 => {
                    let bytes = INTERESTING[rng.below(INTERESTING.len())];
                    data.splice(at..at, bytes.iter().copied());
                }
                _ => {
                    let end = (at + rng.below(40)).min(data.len());
                    let copy = data[at..end].to_vec();
                    data.splice(at..at, copy);
                }
            }
        }
        data
    }

    fn seeds() -> Vec<Vec<u8>> {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(corpus)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "csv"))
            .map(|path| std::fs::read(path).unwrap())
            .collect();
        seeds.sort();
        let rows: String = (0..30)
            .map(|i| {
                format!(
                    "texto número {i},{}\n",
                    ["facturacion", "soporte", "ventas"][i % 3]
                )
            })
            .collect();
        seeds.push(format!("text,label\n{rows}").into_bytes());
        seeds.push(
            format!("id,text,label\r\n\r\n1,\"a, \"\"b\"\"\",ventas\r2,c\"d,soporte\n\n{rows}")
                .into_bytes(),
        );
        // Quoted fields: empty, alone on a line, over several lines, with an escaped quote, with text after the
        // closing quote, and a quote inside an unquoted field.
        seeds.push(
            format!("text,label\n\"\"\n\"a\nb\r\nc\",ventas\n\"x\"\"y\",ventas\n\"z\"w,ventas\nu\"v,\"\"\n{rows}")
                .into_bytes(),
        );
        seeds.push(
            format!("\"text\",\"label\"\r\n\"a, b\",\"ventas\"\r\n{rows}\"fin\",\"ventas\"")
                .into_bytes(),
        );
        // csv-core drops a byte-order mark at the start of the file only: not before a later record.
        seeds.push(format!("\u{feff}\u{feff}\u{feff}text,label\n{rows}").into_bytes());
        seeds.push(format!("text,label\nfoo,ventas\n\u{feff}\"a\",ventas\n{rows}").into_bytes());
        // Longer than csv-core's record buffer, and more fields than its field buffer.
        seeds.push(format!("text,label\n{},ventas\n{rows}", "x".repeat(70_000)).into_bytes());
        seeds.push(format!("text,label\n{}\n{rows}", ",".repeat(MAX_FIELDS + 5)).into_bytes());
        seeds.push(format!("text,label\n{},a\n{rows}", ",".repeat(MAX_FIELDS - 3)).into_bytes());
        seeds
    }

    #[test]
    fn the_fast_path_alone_or_pipelined_gives_the_reports_csv_core_gives() {
        let contract =
            Contract::from_json(include_str!("../../tests/corpus/contract.json")).unwrap();
        let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
        let mut compared = 0;
        for seed in seeds() {
            let mut inputs = vec![seed.clone()];
            inputs.extend((0..60).map(|_| mutate(&seed, &mut rng)));
            for data in inputs {
                // The same reads for both: how csv-core itself reads a file split at odd places (a byte-order
                // mark in two reads) is not the fast path's to change; `check` hands the parser full chunks.
                for step in [1, 2, 7, 64, 4096, usize::MAX] {
                    let reference = report(&data, &contract, Path::CsvCore, step);
                    let fast = report(&data, &contract, Path::Fast, step);
                    let shown = String::from_utf8_lossy(&data[..data.len().min(300)]);
                    assert_eq!(fast, reference, "read {step} bytes at a time: {shown:?}");
                    let pipelined = pipelined_report(&data, &contract, step);
                    assert_eq!(
                        pipelined, reference,
                        "pipelined, read {step} bytes at a time: {shown:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}
