use std::collections::{BTreeMap, HashMap};

use super::*;

fn profile_of(texts: &[&str]) -> Profile {
    let mut profiler = Profiler::default();
    for text in texts {
        if text.is_empty() {
            profiler.empty();
        } else {
            profiler.text(text, text.chars().count() as u64);
        }
    }
    profiler.finish(BTreeMap::from([("a".to_owned(), texts.len() as u64)]))
}

#[test]
fn histogram_buckets_hold_their_values_within_an_eighth() {
    let mut previous = 0;
    for value in (0..70_000).chain([u64::MAX / 3, u64::MAX]) {
        let i = Histogram::bucket(value);
        let lower = Histogram::lower_bound(i);
        assert!(lower <= value, "{value} in bucket {i} from {lower}");
        assert!(
            value - lower <= value / 8,
            "{value} is {lower} + more than 1/8"
        );
        assert!(i >= previous, "buckets grow with the value");
        previous = i;
        if i + 1 < 496 {
            assert!(
                value < Histogram::lower_bound(i + 1),
                "{value} below bucket {}",
                i + 1
            );
        }
    }
}

#[test]
fn histogram_quantiles_table() {
    let mut h = Histogram::default();
    for v in 1..=10 {
        h.add(v);
    }
    h.add(1000);
    #[rustfmt::skip]
    let table = [
        (0.0, Some(1)), (0.5, Some(6)), (0.9, Some(10)),
        // 1000 is in the bucket 960..1024.
        (1.0, Some(960)),
    ];
    for (q, expected) in table {
        assert_eq!(h.quantile(q), expected, "q={q}");
    }
    assert_eq!(Histogram::default().quantile(0.5), None);
}

#[test]
fn tokens_table() {
    #[rustfmt::skip]
    let table: [(&str, &[&str]); 8] = [
        ("¿Dónde está el pedido 123?", &["dónde", "está", "el", "pedido", "123"]),
        ("HOLA-mundo", &["hola", "mundo"]),
        ("e-mail: soporte@empresa.es", &["e", "mail", "soporte", "empresa", "es"]),
        ("Привет, МИР", &["привет", "мир"]),
        ("ok👍ok", &["ok", "ok"]),
        ("ÁRBOL Straße", &["árbol", "straße"]),
        // No word segmentation for scripts written without spaces: one run is one token.
        ("日本語テキスト", &["日本語テキスト"]),
        ("  ...  ", &[]),
    ];
    for (text, expected) in table {
        assert_eq!(tokens(text), expected, "{text:?}");
    }
}

#[test]
fn classes_and_scripts_table() {
    let p = profile_of(&["Hola, мир! 42 😀\u{7}"]);
    let class = |c| p.char_classes[&c];
    #[rustfmt::skip]
    let classes = [
        (CharClass::Letter, 7), (CharClass::Digit, 2), (CharClass::Space, 3),
        (CharClass::Punctuation, 2), (CharClass::Symbol, 1), (CharClass::Control, 1),
    ];
    for (c, n) in classes {
        assert_eq!(class(c), n, "{c:?}");
    }
    assert_eq!(p.scripts[&Script::Latin], 4);
    assert_eq!(p.scripts[&Script::Cyrillic], 3);
    assert_eq!(p.scripts.values().sum::<u64>(), 7);
    let scripts = profile_of(&["שלום مرحبا नमस्ते สวัสดี 你好 カナ 한국 Γειά"]).scripts;
    for script in [
        Script::Hebrew,
        Script::Arabic,
        Script::Indic,
        Script::SoutheastAsian,
        Script::Han,
        Script::Kana,
        Script::Hangul,
        Script::Greek,
    ] {
        assert!(scripts[&script] > 0, "{script:?} in {scripts:?}");
    }
}

#[test]
fn lengths_empty_share_and_vocabulary_of_a_small_set() {
    let p = profile_of(&["el pedido", "EL pedido llegó roto", "", "pedido"]);
    assert_eq!((p.texts, p.empty), (3, 1));
    assert_eq!(p.empty_share(), Some(0.25));
    assert_eq!(p.tokens.quantile(1.0), Some(4));
    assert_eq!(p.chars.quantile(0.0), Some(6));
    assert_eq!(p.vocabulary.tokens, 7);
    assert_eq!(p.vocabulary.count_error, 0);
    let top: Vec<(&str, u64)> = p
        .vocabulary
        .top
        .iter()
        .map(|t| (t.token.as_str(), t.count))
        .collect();
    assert_eq!(top, [("pedido", 3), ("el", 2), ("llegó", 1), ("roto", 1)]);
    for seen in ["pedido", "el", "llegó", "roto"] {
        assert!(p.vocabulary.sketch.contains(seen), "{seen}");
    }
    assert!(!p.vocabulary.sketch.contains("factura"));
}

#[test]
fn merged_profiles_equal_the_profile_of_all_texts() {
    let (a, b) = (
        ["Mi factura está mal", "no llega el pedido", ""],
        [
            "¿Dónde está mi pedido?",
            "Факторинг 2026",
            "cambio de dirección",
        ],
    );
    let all: Vec<&str> = a.iter().chain(&b).copied().collect();
    let mut merged = profile_of(&a);
    merged.merge(&profile_of(&b)).unwrap();
    assert_eq!(merged, profile_of(&all));
    let mut other = Profile::empty();
    other.profile_version += 1;
    assert_eq!(
        merged.merge(&other),
        Err(MergeError::Version(PROFILE_VERSION, PROFILE_VERSION + 1))
    );
}

/// A Zipf-like stream of `n` tokens over `distinct` words, deterministic.
fn zipf(n: usize, distinct: u64, seed: u64) -> Vec<String> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((state >> 11) as f64 / (1u64 << 53) as f64).max(1e-12);
            // Inverse of a power law: P(rank > r) = r^(-1/2), capped.
            let rank = (u.powf(-2.0) as u64).min(distinct);
            // Letters only (the frequent tokens keep no digits): the rank in base 26.
            let mut word = String::from("w");
            let mut n = rank;
            loop {
                word.push(char::from(b'a' + (n % 26) as u8));
                n /= 26;
                if n == 0 {
                    break word;
                }
            }
        })
        .collect()
}

fn truth(tokens: &[String]) -> HashMap<&str, u64> {
    let mut counts = HashMap::new();
    for t in tokens {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    counts
}

fn refs(texts: &[String]) -> Vec<&str> {
    texts.iter().map(String::as_str).collect()
}

fn assert_within_bound(p: &Profile, truth: &HashMap<&str, u64>, n: u64) {
    let v = &p.vocabulary;
    assert!(v.count_error > 0, "the stream overflows the counters");
    assert!(
        v.count_error <= n / (TOP_TOKENS as u64 + 1),
        "error {} over n/(k+1)",
        v.count_error
    );
    for t in &v.top {
        let real = truth[t.token.as_str()];
        assert!(
            t.count <= real && real - t.count <= v.count_error,
            "{}: {} vs {real}",
            t.token,
            t.count
        );
    }
    let reported: Vec<&str> = v.top.iter().map(|t| t.token.as_str()).collect();
    for (token, count) in truth {
        if *count > v.count_error {
            assert!(
                reported.contains(token),
                "{token} ({count}) is frequent and missing"
            );
        }
    }
}

#[test]
fn frequent_tokens_stay_within_the_misra_gries_bound_alone_and_merged() {
    let (first, second) = (zipf(150_000, 60_000, 1), zipf(150_000, 60_000, 2));
    let texts = |tokens: &[String]| tokens.chunks(10).map(|c| c.join(" ")).collect::<Vec<_>>();
    let (ta, tb) = (texts(&first), texts(&second));
    let (pa, pb) = (profile_of(&refs(&ta)), profile_of(&refs(&tb)));
    assert_within_bound(&pa, &truth(&first), first.len() as u64);
    let mut merged = pa.clone();
    merged.merge(&pb).unwrap();
    let both: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_within_bound(&merged, &truth(&both), both.len() as u64);
    assert_eq!(merged.vocabulary.tokens, both.len() as u64);
}

#[test]
fn the_sketch_false_positive_rate_is_as_designed_and_estimated() {
    let mut sketch = Sketch::new();
    for i in 0..100_000 {
        sketch.insert_hash(xxhash_rust::xxh3::xxh3_64(format!("seen{i}").as_bytes()));
    }
    assert!(
        (0..100_000).all(|i| sketch.contains(&format!("seen{i}"))),
        "no false negative"
    );
    let false_positives = (0..100_000)
        .filter(|i| sketch.contains(&format!("unseen{i}")))
        .count();
    let measured = false_positives as f64 / 100_000.0;
    let estimated = sketch.false_positive_rate();
    // 4 bits in one of 2^15 words, 100,000 tokens (about 3 a word): about 0.2 %.
    assert!((0.0005..0.004).contains(&measured), "measured {measured}");
    assert!(
        (measured - estimated).abs() < 0.0008,
        "measured {measured}, estimated {estimated}"
    );
    let distinct = sketch.distinct_estimate();
    assert!(distinct.abs_diff(100_000) < 2_000, "{distinct}");
    for i in 100_000..200_000 {
        sketch.insert_hash(xxhash_rust::xxh3::xxh3_64(format!("seen{i}").as_bytes()));
    }
    let at_200k = (0..100_000)
        .filter(|i| sketch.contains(&format!("unseen{i}")))
        .count() as f64
        / 100_000.0;
    assert!(
        (0.005..0.03).contains(&at_200k),
        "measured {at_200k} at 200,000 tokens"
    );
}

#[test]
fn a_sketch_reads_back_and_refuses_what_is_not_one() {
    let p = profile_of(&["una frase corta", "otra frase"]);
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.len() < 4_000,
        "a sparse sketch compresses: {} bytes",
        json.len()
    );
    let back: Profile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let sketch = |bits: u32, data: &str| {
        serde_json::json!({"bitsLog2": bits, "hashes": 4, "gzipBase64": data}).to_string()
    };
    let refused = [
        (sketch(20, ""), "2^20 bits"),
        (sketch(21, "not base64!"), "do not decode"),
        (
            sketch(21, "H4sIAAAAAAAA/wMAAAAAAAAAAAA="),
            "0 bytes, expected 262144",
        ),
    ];
    for (json, expected) in refused {
        let error = serde_json::from_str::<Sketch>(&json)
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn the_check_profiles_valid_rows_only() {
    let contract = crate::Contract::from_json(
        r#"{"labels": ["a", "b"], "min_rows": 1, "max_text_chars": 100, "max_invalid_row_fraction": 0.5,
            "max_null_fraction": 0.5}"#,
    )
    .unwrap();
    let csv = "text,label\nHola Mundo,a\nhola otra vez,b\nno cuenta,zzz\n,a\n  ,b\nrepetido,a\n";
    let (report, profile) =
        crate::check_profiled(csv.as_bytes(), "x.csv", &contract, None).unwrap();
    assert!(report.is_valid(), "{:?}", report.reasons);
    assert_eq!((profile.texts, profile.empty), (3, 2));
    assert_eq!(profile.labels, report.label_counts);
    let top: Vec<(&str, u64)> = profile
        .vocabulary
        .top
        .iter()
        .map(|t| (t.token.as_str(), t.count))
        .collect();
    assert_eq!(
        top,
        [
            ("hola", 2),
            ("mundo", 1),
            ("otra", 1),
            ("repetido", 1),
            ("vez", 1)
        ]
    );
    assert!(
        !profile.vocabulary.sketch.contains("cuenta"),
        "an invalid row is not profiled"
    );
}

#[test]
fn numbers_and_long_runs_are_counted_in_the_sketch_not_kept_as_text() {
    let long = "x".repeat(MAX_TOKEN_BYTES + 1);
    let text = format!("pedido 600123456 de {long} pedido ٣٤٥");
    let p = profile_of(&[&text]);
    let top: Vec<&str> = p.vocabulary.top.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(top, ["pedido", "de"]);
    assert_eq!(p.vocabulary.tokens, 6);
    for seen in ["600123456", long.as_str(), "٣٤٥", "pedido"] {
        assert!(
            p.vocabulary.sketch.contains(seen),
            "{seen} is in the sketch"
        );
    }
}
