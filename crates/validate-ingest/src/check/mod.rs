//! The check engine: one streaming pass over a dataset, every contract check at once, in memory bounded by the
//! contract (longest record, distinct-text table), never by the file.
//!
//! Pure and synchronous: it reads any [`Read`] — a file or stdin in `dataset-check`, the S3 object stream in the
//! Lambda — so the CLI and the Lambda run the same code.

mod csv;
mod jsonl;
mod tally;

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

use crate::contract::{Contract, FormatSetting};
use crate::report::Report;

pub use tally::{Field, Rule, Tally};

/// Distinct texts whose duplicates are counted exactly; beyond this the duplicate count is a sampled estimate.
/// The table of 64-bit hashes then holds about 18 MiB.
pub const EXACT_DISTINCT_TEXTS: usize = 1 << 20;

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
    let mut tally = Tally::new(contract);
    let mut source = Counted::new(input, contract.max_bytes);
    let format = resolve_format(name, contract.format, explicit);
    let mut decoded_bytes = None;

    let outcome = (|| -> Result<(), Stop> {
        let mut buffered = BufReader::with_capacity(CHUNK, &mut source);
        let gzip = buffered
            .fill_buf()
            .map_err(Stop::Read)?
            .starts_with(&[0x1f, 0x8b]);
        let Some(format) = format else {
            return Err(Stop::Data(format!(
                "cannot tell the format of {name:?}: name it .csv or .jsonl (optionally .gz), or set \"format\" in the contract"
            )));
        };
        if gzip {
            let mut decoded = Counted::new(MultiGzDecoder::new(buffered), contract.max_bytes);
            let result = parse(&mut decoded, format, contract, &mut tally);
            decoded_bytes = Some(decoded.bytes);
            result
        } else {
            parse(buffered, format, contract, &mut tally)
        }
    })();

    match outcome {
        Ok(()) => {}
        Err(Stop::Data(reason)) => tally.fatal(reason),
        Err(Stop::Read(error)) => {
            if let Some(limit) = limit_exceeded(&error) {
                tally.fatal(format!(
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
                tally.fatal(format!("the gzip stream is corrupt or truncated ({error})"));
            }
        }
    }
    let compression = if decoded_bytes.is_some() {
        "gzip"
    } else {
        "none"
    };
    Ok(tally.finish(
        name,
        format.map(Format::as_str),
        compression,
        source.bytes,
        decoded_bytes.unwrap_or(source.bytes),
    ))
}

/// The report for a file announced as larger than the contract allows: quarantined without reading a byte.
pub fn oversized(name: &str, contract: &Contract, size: u64) -> Report {
    let mut tally = Tally::new(contract);
    tally.fatal(format!(
        "the file is {size} bytes, larger than the contract's max_bytes ({} bytes); it was not read",
        contract.max_bytes
    ));
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
    tally: &mut Tally<'_>,
) -> Result<(), Stop> {
    match format {
        Format::Csv => csv::parse(input, contract, tally),
        Format::Jsonl => jsonl::parse(input, contract, tally),
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
