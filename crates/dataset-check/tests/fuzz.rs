//! Mutation fuzzing of the check: valid CSV, JSON Lines and gzip files, mutated (bytes flipped, inserted, deleted,
//! repeated, cut; quotes, delimiters, newlines, byte-order marks and invalid UTF-8 favoured), must never panic, must
//! get the same report however their bytes arrive, and the CLI must answer 0, 1 or 2 only.
//!
//! A few hundred mutants run in `make test` in seconds; `make fuzz` runs many more in release
//! (`GUARDRAILS_FUZZ_ITERATIONS`, `GUARDRAILS_FUZZ_SEED`). Hand-written rather than `cargo fuzz` so that it runs
//! on the stable toolchain inside the ordinary test suite; the mutations aim at the parsers' edges.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use dataset_check::check::check;
use dataset_check::contract::Contract;

use common::{Trickle, essence};

/// xorshift64*: a reproducible stream of pseudo-random numbers from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes the parsers treat specially.
const INTERESTING: [&[u8]; 12] = [
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\xC3",
    b"\0",
    b"{",
    b"}",
    b"\\",
    b"\"\"",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = at.min(data.len() - 1);
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let insert = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, insert.iter().copied());
            }
            2 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(64)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            4 => data.truncate(at),
            _ => {
                let byte = rng.next() as u8;
                data.insert(at, byte);
            }
        }
    }
    data
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let labels = ["facturacion", "soporte", "ventas", "Otros"];
    let mut csv = String::from("text,label\n");
    let mut jsonl = String::new();
    for i in 0..12 {
        let label = labels[i % 4];
        csv.push_str(&format!(
            "\"Consulta {i}, sobre \"\"la\"\" factura\nde noviembre\",{label}\n"
        ));
        jsonl.push_str(&format!(
            "{{\"text\": \"Mensaje número {i} \\u00e9\", \"label\": \"{label}\"}}\n"
        ));
    }
    vec![
        ("seed.csv", csv.clone().into_bytes()),
        ("seed.jsonl", jsonl.clone().into_bytes()),
        ("seed.csv.gz", gzip(csv.as_bytes())),
        ("seed.jsonl.gz", gzip(jsonl.as_bytes())),
    ]
}

fn iterations() -> usize {
    std::env::var("GUARDRAILS_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

#[test]
fn mutants_never_panic_and_get_one_report_however_they_arrive() {
    let contract = Contract::from_json(
        r#"{"labels": ["facturacion", "soporte", "ventas", "Otros"], "min_text_chars": 3,
            "max_text_chars": 300, "min_rows": 5, "max_bytes": 65536}"#,
    )
    .unwrap();
    let seed = std::env::var("GUARDRAILS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_586_798_u64);
    let mut rng = Rng(seed);
    let seeds = seeds();
    for n in 0..iterations() {
        let (name, base) = &seeds[n % seeds.len()];
        // Mutate gzip files both before and after compression.
        let data = if name.ends_with(".gz") && rng.below(2) == 0 {
            let plain = {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&base[..])
                    .read_to_end(&mut out)
                    .unwrap();
                out
            };
            gzip(&mutate(&plain, &mut rng))
        } else {
            mutate(base, &mut rng)
        };
        let whole = essence(&check(&data[..], name, &contract, None).unwrap());
        for max in [1, 3, 7, 1000] {
            let sliced =
                essence(&check(Trickle { data: &data, max }, name, &contract, None).unwrap());
            assert_eq!(
                sliced, whole,
                "mutant {n} (seed {seed}) of {name}: read {max} bytes at a time gives another report; \
                 bytes: {data:?}"
            );
        }
    }
}

#[test]
fn the_cli_answers_0_1_or_2_on_mutants() {
    let dir = std::env::temp_dir().join(format!("dataset-check-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let contract = dir.join("contract.json");
    std::fs::write(
        &contract,
        r#"{"labels": ["facturacion", "soporte", "ventas", "Otros"]}"#,
    )
    .unwrap();
    let mut rng = Rng(0xC11_u64);
    let seeds = seeds();
    for n in 0..(iterations() / 20).max(8) {
        let (name, base) = &seeds[n % seeds.len()];
        let data = mutate(base, &mut rng);
        let format = if name.contains("csv") { "csv" } else { "jsonl" };
        let mut child = Command::new(env!("CARGO_BIN_EXE_dataset-check"))
            .args(["-", "--contract"])
            .arg(&contract)
            .args(["--format", format])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The CLI may stop reading early (a fatal problem): a broken pipe here is fine.
        let _ = child.stdin.take().unwrap().write_all(&data);
        let status = child.wait().unwrap();
        assert!(
            matches!(status.code(), Some(0..=2)),
            "mutant {n} of {name}: exit {status:?}"
        );
    }
}
