//! The check engine: one streaming pass over a dataset, every contract check at once, in memory bounded by the
//! contract (longest record, distinct-text table), never by the file.
//!
//! Pure and synchronous: it reads any [`Read`] — a file or stdin in `dataset-check`, the S3 object stream in the
//! Lambda — so the CLI and the Lambda run the same code.

mod csv;
mod jsonl;
mod pipeline;
mod tally;

use std::io::{self, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use crate::contract::{Contract, FormatSetting};
use crate::profile::Profile;
use crate::report::Report;

pub(crate) use tally::PassThrough;
pub use tally::{Field, RowCounter, Rule, Sink, Tally};

/// Distinct texts whose duplicates are counted exactly; beyond this the duplicate count is a sampled estimate.
/// Its table (hash and count per slot) takes 1.5 MiB, which keeps the per-row lookup in cache.
pub const EXACT_DISTINCT_TEXTS: usize = 1 << 16;

/// Read size for the parsers.
const CHUNK: usize = 256 * 1024;

/// How records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
}

impl Format {
    /// `csv` or `jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// Parses `csv` / `jsonl`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// The format for `name`: an explicit choice wins, then the contract's, then the extension (`.gz` ignored).
pub fn resolve_format(
    name: &str,
    setting: FormatSetting,
    explicit: Option<Format>,
) -> Option<Format> {
    if explicit.is_some() {
        return explicit;
    }
    match setting {
        FormatSetting::Csv => Some(Format::Csv),
        FormatSetting::Jsonl => Some(Format::Jsonl),
        FormatSetting::Auto => {
            let lower = name.to_ascii_lowercase();
            let base = lower.strip_suffix(".gz").unwrap_or(&lower);
            match base.rsplit_once('.').map(|(_, ext)| ext) {
                Some("csv") => Some(Format::Csv),
                Some("jsonl" | "ndjson" | "json") => Some(Format::Jsonl),
                _ => None,
            }
        }
    }
}

/// Reading the source failed (not the data being bad): the caller should retry, not quarantine.
#[derive(Debug, thiserror::Error)]
#[error("reading {object} failed: {source}")]
pub struct SourceError {
    /// What was being read.
    pub object: String,
    /// The I/O error from the source.
    #[source]
    pub source: io::Error,
}

/// Checks one dataset against `contract`, reading `input` once.
///
/// `name` (a key or path) picks the format when the contract says `auto` and `explicit` is `None`; gzip is
/// recognised by its magic bytes, whatever the name.
///
/// # Errors
/// [`SourceError`] only when the source itself fails; every problem with the data is in the [`Report`].
pub fn check(
    input: impl Read,
    name: &str,
    contract: &Contract,
    explicit: Option<Format>,
) -> Result<Report, SourceError> {
    let tally = Tally::new(contract);
    let (report, _) = check_with(input, name, contract, explicit, tally, Threads::available())?;
    Ok(report)
}

/// Checks one dataset as [`check`] does and, in the same pass, profiles its valid texts (label shares, lengths,
/// character classes, scripts, vocabulary): what validate-ingest stores for the baseline of the models trained
/// on the file.
///
/// # Errors
/// [`SourceError`] only when the source itself fails.
pub fn check_profiled(
    input: impl Read,
    name: &str,
    contract: &Contract,
    explicit: Option<Format>,
) -> Result<(Report, Profile), SourceError> {
    let tally = Tally::profiled(contract);
    let (report, profile) =
        check_with(input, name, contract, explicit, tally, Threads::available())?;
    Ok((report, profile.unwrap_or_else(Profile::empty)))
}

/// Where the row rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threads {
    /// On the parsing thread.
    One,
    /// On a second thread, fed in batches ([`pipeline`]).
    Two,
}

impl Threads {
    /// Two where a second core is there to run them.
    fn available() -> Self {
        if pipeline::worthwhile() {
            Threads::Two
        } else {
            Threads::One
        }
    }
}

fn check_with(
    input: impl Read,
    name: &str,
    contract: &Contract,
    explicit: Option<Format>,
    mut tally: Tally<'_>,
    threads: Threads,
) -> Result<(Report, Option<Profile>), SourceError> {
    let read = match threads {
        Threads::Two => pipeline::pipelined(&mut tally, |recorder| {
            run(input, name, contract, explicit, recorder)
        }),
        Threads::One => run(input, name, contract, explicit, &mut tally),
    }?;
    let profile = tally.profile();
    let report = tally.finish(
        name,
        read.format.map(Format::as_str),
        read.compression,
        read.bytes_read,
        read.bytes_decoded,
    );
    Ok((report, profile))
}

/// Parses the dataset exactly as [`check`] does but applies no rule: the bare cost of reading, decompressing
/// and parsing, which the benchmark compares the full check against. Returns the rows parsed.
///
/// # Errors
/// [`SourceError`] when the source fails.
pub fn parse_only(
    input: impl Read,
    name: &str,
    contract: &Contract,
    explicit: Option<Format>,
) -> Result<u64, SourceError> {
    let mut counter = RowCounter::default();
    run(input, name, contract, explicit, &mut counter)?;
    Ok(counter.rows)
}

/// What reading a dataset found besides its rows.
struct ReadSummary {
    format: Option<Format>,
    compression: &'static str,
    bytes_read: u64,
    bytes_decoded: u64,
}

/// The reader chain shared by [`check`] and [`parse_only`]: count and limit the source, sniff gzip, decode,
/// count and limit again, parse into `sink`.
fn run(
    input: impl Read,
    name: &str,
    contract: &Contract,
    explicit: Option<Format>,
    sink: &mut impl csv::CsvSink,
) -> Result<ReadSummary, SourceError> {
    let mut source = Counted::new(input, contract.max_bytes);
    let format = resolve_format(name, contract.format, explicit);
    let mut decoded_bytes = None;

    let outcome = (|| -> Result<(), Stop> {
        // Sniff the gzip magic from the first two bytes, however the source hands them out.
        let mut head = [0u8; 2];
        let mut got = 0;
        while got < head.len() {
            match source.read(&mut head[got..]).map_err(Stop::Read)? {
                0 => break,
                n => got += n,
            }
        }
        let gzip = head[..got] == [0x1f, 0x8b];
        // Filled: the gzip decoder is handed the same chunks however the source delivers its bytes, so where
        // it notices a corrupt stream (and what it decoded before) never depends on the source's read sizes.
        let buffered =
            BufReader::with_capacity(CHUNK, Filled::new((&head[..got]).chain(&mut source)));
        let Some(format) = format else {
            return Err(Stop::Data(format!(
                "cannot tell the format of {name:?}: name it .csv or .jsonl (optionally .gz), or set \"format\" in the contract"
            )));
        };
        if gzip {
            let mut decoded = Counted::new(MultiGzDecoder::new(buffered), contract.max_bytes);
            let result = parse(&mut decoded, format, contract, sink);
            decoded_bytes = Some(decoded.bytes);
            result
        } else {
            parse(buffered, format, contract, sink)
        }
    })();

    match outcome {
        Ok(()) => {}
        Err(Stop::Data(reason)) => sink.fatal(reason),
        Err(Stop::Read(error)) => {
            if let Some(limit) = limit_exceeded(&error) {
                sink.fatal(format!(
                    "the data is larger than the contract's max_bytes ({limit} bytes{})",
                    if decoded_bytes.is_some() {
                        " once decompressed"
                    } else {
                        ""
                    }
                ));
            } else if source.failed {
                return Err(SourceError {
                    object: name.to_owned(),
                    source: error,
                });
            } else {
                // Not ours and not the source's: the gzip decoder's.
                sink.fatal(format!("the gzip stream is corrupt or truncated ({error})"));
            }
        }
    }
    Ok(ReadSummary {
        format,
        compression: if decoded_bytes.is_some() {
            "gzip"
        } else {
            "none"
        },
        bytes_read: source.bytes,
        bytes_decoded: decoded_bytes.unwrap_or(source.bytes),
    })
}

/// The report for a file announced as larger than the contract allows: quarantined without reading a byte.
pub fn oversized(name: &str, contract: &Contract, size: u64) -> Report {
    let reason = format!(
        "the file is {size} bytes, larger than the contract's max_bytes ({} bytes); it was not read",
        contract.max_bytes
    );
    refused(name, contract, size, &reason)
}

/// The report for a file refused before reading a byte (too large, a reserved key …), for `reason`.
pub fn refused(name: &str, contract: &Contract, size: u64, reason: &str) -> Report {
    let mut tally = Tally::new(contract);
    tally.fatal(reason.to_owned());
    let format = resolve_format(name, contract.format, None).map(Format::as_str);
    tally.finish(name, format, "unknown", size, size)
}

/// Why parsing stopped early.
enum Stop {
    /// The data cannot be read further (bad header, JSON array …): the reason.
    Data(String),
    /// Reading failed: from the source, the decoder or a size limit.
    Read(io::Error),
}

fn parse(
    input: impl Read,
    format: Format,
    contract: &Contract,
    sink: &mut impl csv::CsvSink,
) -> Result<(), Stop> {
    match format {
        Format::Csv => csv::parse(input, contract, sink),
        Format::Jsonl => jsonl::parse(input, contract, sink),
    }
}

/// A reader whose every read fills the whole buffer it is given (or reaches the end): the chunks it hands out
/// are the same whether its source delivers a byte or a megabyte at a time. A source error after some bytes
/// is held and returned by the next read, so no byte read is lost.
struct Filled<R> {
    inner: R,
    held: Option<io::Error>,
}

impl<R: Read> Filled<R> {
    fn new(inner: R) -> Self {
        Filled { inner, held: None }
    }
}

impl<R: Read> Read for Filled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.held.take() {
            return Err(error);
        }
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(e) => {
                    self.held = Some(e);
                    break;
                }
            }
        }
        Ok(filled)
    }
}

/// The error a [`Counted`] reader raises past its limit.
#[derive(Debug, thiserror::Error)]
#[error("the data exceeds the contract's max_bytes ({0} bytes)")]
struct LimitExceeded(u64);

fn limit_exceeded(error: &io::Error) -> Option<u64> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LimitExceeded>())
        .map(|e| e.0)
}

/// Counts bytes through a reader, stops at a limit, and remembers whether the inner reader itself failed.
struct Counted<R> {
    inner: R,
    bytes: u64,
    limit: u64,
    failed: bool,
}

impl<R> Counted<R> {
    fn new(inner: R, limit: u64) -> Self {
        Counted {
            inner,
            bytes: 0,
            limit,
            failed: false,
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                if self.bytes > self.limit {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        LimitExceeded(self.limit),
                    ));
                }
                Ok(n)
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that hands out `step` bytes per read, then fails once it has given `fail_after` bytes.
    struct Breaking<'a> {
        data: &'a [u8],
        step: usize,
        given: usize,
        fail_after: Option<usize>,
    }

    impl Read for Breaking<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_after.is_some_and(|n| self.given >= n) {
                return Err(io::Error::other("the source broke"));
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.given);
            buf[..n].copy_from_slice(&self.data[self.given..self.given + n]);
            self.given += n;
            Ok(n)
        }
    }

    #[test]
    fn filled_reads_give_the_same_chunks_however_the_source_delivers() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        for step in [1, 3, 4096, 100_000] {
            let mut filled = Filled::new(Breaking {
                data: &data,
                step,
                given: 0,
                fail_after: None,
            });
            let mut chunks = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = filled.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                chunks.push(n);
            }
            assert_eq!(chunks, [4096, 4096, 1808], "step {step}");
        }
        // An error after some bytes: those bytes first, then the error, nothing lost.
        let mut filled = Filled::new(Breaking {
            data: &data,
            step: 7,
            given: 0,
            fail_after: Some(21),
        });
        let mut buf = [0u8; 100];
        assert_eq!(filled.read(&mut buf).unwrap(), 21);
        assert_eq!(buf[..21], data[..21]);
        assert!(filled.read(&mut buf).is_err());
    }

    /// A reader that hands out at most `step` bytes per read, like a network stream.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn contract() -> Contract {
        Contract::from_json(r#"{"labels": ["a", "b"], "min_rows": 1, "max_text_chars": 100}"#)
            .unwrap()
    }

    #[test]
    fn reports_do_not_depend_on_how_the_stream_is_chunked() {
        let mut csv = String::from("\u{feff}text,label\r\n");
        let mut jsonl = String::from("\u{feff}");
        for i in 0..500 {
            let label = if i % 3 == 0 { "a" } else { "b" };
            csv.push_str(&format!(
                "\"texto {i}, con \"\"comillas\"\"\nen dos líneas\",{label}\n"
            ));
            jsonl.push_str(&format!(
                "{{\"text\": \"texto {i} ñ\", \"label\": \"{label}\"}}\n"
            ));
        }
        let contract = contract();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, jsonl.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        for (name, data) in [
            ("x.csv", csv.as_bytes()),
            ("x.jsonl", jsonl.as_bytes()),
            ("x.jsonl.gz", gz.as_slice()),
        ] {
            let whole = check(data, name, &contract, None).unwrap();
            assert_eq!(whole.rows, 500, "{name}");
            assert!(whole.is_valid(), "{name}: {:?}", whole.reasons);
            // Every step size from 1 byte up, so chunk ends fall on every position of a record.
            for step in (1..=97).chain([CHUNK]) {
                let chunked = check(Trickle { data, step }, name, &contract, None).unwrap();
                assert_eq!(chunked, whole, "{name} read {step} bytes at a time");
                assert_eq!(
                    parse_only(Trickle { data, step }, name, &contract, None).unwrap(),
                    500,
                    "{name} parse-only, step {step}"
                );
            }
        }
    }

    #[test]
    fn the_rules_on_a_second_thread_give_the_same_reports_and_profiles() {
        // Every corpus file, CSV, JSON Lines and gzip, good and broken, checked and profiled on one thread and on
        // two (in batches of a few rows under test), read whole and a few bytes at a time.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let contract =
            Contract::from_json(&std::fs::read_to_string(dir.join("contract.json")).unwrap())
                .unwrap();
        let mut compared = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if matches!(
                name.as_str(),
                "contract.json" | "expected.json" | "make_corpus.py"
            ) {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            for step in [3, CHUNK] {
                let run = |threads, profiled| {
                    let input = Trickle { data: &data, step };
                    let tally = if profiled {
                        Tally::profiled(&contract)
                    } else {
                        Tally::new(&contract)
                    };
                    check_with(input, &name, &contract, None, tally, threads).unwrap()
                };
                for profiled in [false, true] {
                    assert_eq!(
                        run(Threads::Two, profiled),
                        run(Threads::One, profiled),
                        "{name}, {step} bytes at a time, profiled: {profiled}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared >= 80, "{compared}");
    }

    #[test]
    fn an_open_quote_at_the_end_is_found_however_the_stream_is_chunked() {
        let contract = contract();
        let rows: String = (0..20).map(|i| format!("\"texto {i}\",a\r\n")).collect();
        let closed = format!("text,label\r\n{rows}\"último, \"\"bien\"\" cerrado\",b");
        let open = format!("text,label\r\n{rows}\"sin cerrar,b\r\notra línea,a\r\n");
        for step in [1, 2, 3, 5, 8, 13, CHUNK] {
            let ok = check(
                Trickle {
                    data: closed.as_bytes(),
                    step,
                },
                "x.csv",
                &contract,
                None,
            )
            .unwrap();
            assert!(ok.is_valid(), "step {step}: {:?}", ok.reasons);
            assert_eq!(ok.rows, 21);
            let bad = check(
                Trickle {
                    data: open.as_bytes(),
                    step,
                },
                "x.csv",
                &contract,
                None,
            )
            .unwrap();
            assert!(
                bad.reasons
                    .iter()
                    .any(|r| r.starts_with("unterminated quote")),
                "step {step}: {:?}",
                bad.reasons
            );
        }
    }
}
