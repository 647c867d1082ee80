//! Benchmark helper for `make bench` (built in release):
//!
//! - `dataset-bench generate csv|jsonl BYTES PATH` writes synthetic text-classification data: Spanish support
//!   tickets, skewed labels, about 0.4 % empty texts and 1 % repeated texts, CSV fields with quotes, commas and
//!   line breaks. Deterministic.
//! - `dataset-bench parse-only CONTRACT PATH` parses PATH exactly as `dataset-check` does, applying no rule, and
//!   prints the rows and seconds as JSON: the bare-parse baseline.
//! - `dataset-bench reference PATH` reads PATH with what a user would reach for instead, and prints the same: the
//!   `csv` crate's `ByteRecord` loop for CSV, `serde_json` into `IgnoredAny` per line for JSON Lines, and the
//!   gzip stream decoded and dropped for `.gz` (the floor of any check of a gzip file).

#![allow(clippy::unwrap_used)]

use std::io::{BufWriter, Write};
use std::time::Instant;

use dataset_check::check::parse_only;
use dataset_check::contract::Contract;

const WORDS: &[&str] = &[
    "factura",
    "cobro",
    "pago",
    "tarjeta",
    "cuenta",
    "aplicación",
    "error",
    "sesión",
    "contraseña",
    "plan",
    "anual",
    "mensual",
    "descuento",
    "empresa",
    "usuarios",
    "soporte",
    "técnico",
    "llamada",
    "correo",
    "octubre",
    "noviembre",
    "reembolso",
    "pedido",
    "envío",
    "dirección",
    "gracias",
    "ayuda",
    "problema",
    "no",
    "me",
    "llega",
    "quiero",
    "necesito",
    "puedo",
    "cambiar",
    "consultar",
    "el",
    "la",
    "de",
    "mi",
    "con",
    "por",
    "favor",
    "desde",
    "ayer",
    "hoy",
    "¿cuándo?",
    "urgente",
    "cliente",
    "número",
];
/// Label skew: facturacion 40 %, soporte 30 %, ventas 20 %, Otros 10 %.
const LABELS: &[(&str, u64)] = &[
    ("facturacion", 40),
    ("soporte", 30),
    ("ventas", 20),
    ("Otros", 10),
];

/// xorshift64*: deterministic and dependency-free; statistical quality is irrelevant here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn label(rng: &mut Rng) -> &'static str {
    let mut pick = rng.below(100);
    for (label, share) in LABELS {
        if pick < *share {
            return label;
        }
        pick -= share;
    }
    "Otros"
}

fn text(rng: &mut Rng, id: u64) -> String {
    let words = 4 + rng.below(40);
    let mut text = String::with_capacity(256);
    for i in 0..words {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    text.push_str(&format!(" (ticket {id})"));
    match rng.below(50) {
        0 => text.push_str(", con \"comillas\", y coma"),
        1 => text.push_str("\nsegunda línea"),
        _ => {}
    }
    text
}

fn generate(format: &str, bytes: u64, path: &str) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0u64;
    let mut id = 0u64;
    let mut previous = String::new();
    if format == "csv" {
        written += out.write(b"text,label,ticket_id\n").unwrap() as u64;
    }
    while written < bytes {
        id += 1;
        let roll = rng.below(1000);
        let text = if roll < 4 {
            String::new()
        } else if roll < 14 && !previous.is_empty() {
            previous.clone()
        } else {
            text(&mut rng, id)
        };
        let label = label(&mut rng);
        let line = if format == "csv" {
            format!("\"{}\",{label},{id}\n", text.replace('"', "\"\""))
        } else {
            format!(
                "{{\"ticket_id\":{id},\"text\":{},\"label\":\"{label}\",\"channel\":\"email\"}}\n",
                serde_json::to_string(&text).unwrap()
            )
        };
        written += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
        if !text.is_empty() {
            previous = text;
        }
    }
    out.flush().unwrap();
}

/// Reads `path` the way a user would without dataset-check (see the module's doc); the rows read (0 for gzip).
fn reference(path: &str) -> u64 {
    let file = std::fs::File::open(path).unwrap();
    if path.ends_with(".gz") {
        let mut decoded = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
        std::io::copy(&mut decoded, &mut std::io::sink()).unwrap();
        return 0;
    }
    if path.ends_with(".csv") {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
        let mut record = csv::ByteRecord::new();
        let mut rows = 0;
        while reader.read_byte_record(&mut record).unwrap() {
            rows += 1;
        }
        return rows;
    }
    let mut rows = 0;
    for line in std::io::BufRead::split(std::io::BufReader::new(file), b'\n') {
        let line = line.unwrap();
        if !line.is_empty() {
            let _: serde::de::IgnoredAny = serde_json::from_slice(&line).unwrap();
            rows += 1;
        }
    }
    rows
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") if args.len() == 5 => {
            generate(&args[2], args[3].parse().unwrap(), &args[4]);
        }
        Some("parse-only") if args.len() == 4 => {
            let contract =
                Contract::from_json(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
            let file = std::fs::File::open(&args[3]).unwrap();
            let started = Instant::now();
            let rows = parse_only(file, &args[3], &contract, None).unwrap();
            println!(
                "{{\"rows\": {rows}, \"seconds\": {:.3}}}",
                started.elapsed().as_secs_f64()
            );
        }
        Some("reference") if args.len() == 3 => {
            let started = Instant::now();
            let rows = reference(&args[2]);
            println!(
                "{{\"rows\": {rows}, \"seconds\": {:.3}}}",
                started.elapsed().as_secs_f64()
            );
        }
        _ => {
            eprintln!(
                "usage: dataset-bench generate csv|jsonl BYTES PATH | parse-only CONTRACT PATH | reference PATH"
            );
            std::process::exit(2);
        }
    }
}
