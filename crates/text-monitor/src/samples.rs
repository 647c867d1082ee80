//! Capture and ground-truth lines as SageMaker data capture and Model Monitor's ground truth write them (JSON
//! encoding), for the tests and benches of the engine and of the functions that run it.

use serde_json::json;

/// Words of Spanish support tickets, for texts of a training distribution.
pub const WORDS: [&str; 12] = [
    "factura",
    "pago",
    "envío",
    "pedido",
    "cuenta",
    "tarjeta",
    "devolución",
    "cobro",
    "cliente",
    "llega",
    "error",
    "precio",
];

/// A captured request whose body is `{"text": text}` and whose response body is `answer` (the model's JSON).
pub fn capture(event_id: &str, text: &str, answer: &str) -> String {
    json!({
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT", "data": json!({"text": text}).to_string(), "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT", "data": answer, "encoding": "JSON"}
        },
        "eventMetadata": {"eventId": event_id},
        "eventVersion": "0"
    })
    .to_string()
}

/// The model's JSON answer: `label` with `confidence`.
pub fn answer(label: &str, confidence: f64) -> String {
    json!({"label": label, "confidence": confidence}).to_string()
}

/// A label in Model Monitor's ground-truth format (CSV encoding: the label itself).
pub fn truth(event_id: &str, label: &str) -> String {
    json!({
        "groundTruthData": {"data": label, "encoding": "CSV"},
        "eventMetadata": {"eventId": event_id},
        "eventVersion": "0"
    })
    .to_string()
}
