//! Baselines on the emulator: the profiles of a run's files merged in pin order, a file whose profile cannot be
//! had listed with the reason (never fatal), stored once, and read back only when its digest matches.

#![allow(clippy::unwrap_used)]

use chrono::Utc;
use guardrails_core::baseline::{BaselineError, Baselines};
use guardrails_core::ledger::{Copy, Entry, Pins};
use guardrails_core::state::StateStore;
use guardrails_core::{ObjectRef, aws};
use testkit::{KmsBucket, emulator};

const CONTRACT: &str = r#"{"labels": ["soporte", "ventas"], "min_rows": 1}"#;

fn pinned(id: &str, profile: Option<&str>) -> Entry {
    Entry {
        id: id.to_owned(),
        time: Utc::now(),
        dataset: "tickets".to_owned(),
        rows: 1,
        copy: Some(Copy {
            object: ObjectRef::new("ingested", format!("tickets/{id}.csv")),
            bytes: 10,
            sha256: None,
            contract: None,
            profile: profile.map(str::to_owned),
        }),
    }
}

#[tokio::test]
async fn profiles_merge_in_pin_order_and_a_lost_one_is_listed_not_fatal() {
    let sdk = emulator().sdk_config().await;
    let bucket = KmsBucket::create(&sdk, "state").await;
    let state = StateStore::new(aws::s3_client(&sdk), &bucket.name);
    let contract = dataset_check::Contract::from_json(CONTRACT).unwrap();
    // 20 profiled files (more than are fetched at once), one named but gone, one from before profiles.
    let mut entries = Vec::new();
    for i in 0..20 {
        let csv = format!("text,label\nmi pedido {i} no llega,soporte\nquiero comprar,ventas\n");
        let (_, profile) =
            dataset_check::check_profiled(csv.as_bytes(), "x.csv", &contract, None).unwrap();
        let key = format!("profiles/tickets/file-{i}.json");
        state
            .create_bytes(&key, serde_json::to_vec(&profile).unwrap())
            .await
            .unwrap();
        entries.push(pinned(&format!("file-{i}"), Some(&key)));
    }
    entries.insert(7, pinned("gone", Some("profiles/tickets/gone.json")));
    entries.push(pinned("old", None));
    let pins = Pins {
        execution: "data-1".to_owned(),
        dataset: "tickets".to_owned(),
        until: Utc::now(),
        entries,
    };
    let baselines = Baselines::new(state.clone());
    let built = baselines.build("train-1", &pins).await.unwrap();
    assert_eq!(built.files, 20);
    let reasons: Vec<(&str, &str)> = built
        .unprofiled
        .iter()
        .map(|u| (u.object.key.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("tickets/gone.csv", "profiles/tickets/gone.json is missing"),
            ("tickets/old.csv", "validated before profiles were kept"),
        ]
    );
    assert_eq!(built.profile.labels["soporte"], 20);
    let top: Vec<(&str, u64)> = built
        .profile
        .vocabulary
        .top
        .iter()
        .take(2)
        .map(|t| (t.token.as_str(), t.count))
        .collect();
    assert_eq!(top, [("comprar", 20), ("llega", 20)]);
    // The same pins build the same bytes: a baseline does not depend on which fetch finished first.
    let again = baselines.build("train-1", &pins).await.unwrap();
    assert_eq!(
        serde_json::to_vec(&again).unwrap(),
        serde_json::to_vec(&built).unwrap()
    );

    // Stored once: a second store keeps the first and answers its digest; it reads back by that digest only.
    assert!(baselines.stored("train-1").await.unwrap().is_none());
    let stored = baselines.store(&built).await.unwrap();
    let mut other = built.clone();
    other.files = 99;
    assert_eq!(baselines.store(&other).await.unwrap(), stored);
    assert_eq!(
        baselines.stored("train-1").await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(baselines.load(&stored).await.unwrap(), built);
    let mut wrong = stored.clone();
    wrong.sha256 = guardrails_core::lineage::sha256_hex(b"another");
    assert!(
        matches!(baselines.load(&wrong).await, Err(BaselineError::Invalid(e)) if e.contains("SHA-256"))
    );
    let mut elsewhere = stored;
    elsewhere.object.key = "lineage/train-1.json".to_owned();
    assert!(
        matches!(baselines.load(&elsewhere).await, Err(BaselineError::Invalid(e)) if e.contains("not a baseline"))
    );
}
