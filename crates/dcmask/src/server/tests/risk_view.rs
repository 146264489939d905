//! The Risk view: re-identification risk of the staged files, without their values.

use super::support::with_ids;
use super::*;

#[tokio::test]
async fn the_risk_view_shows_no_value_of_a_field_the_profile_removed() {
    let t = start(&[], None);
    let sid = t.session().await;
    let risk = format!("/api/sessions/{sid}/risk");
    t.upload_named(&sid, &[("a.dcm", with_ids(&[])), ("b.dcm", with_ids(&[]))])
        .await;
    let r = t.apply(&sid, r#"{"profile":"basic"}"#).await;
    assert_eq!(r.status, 200);
    let r = t
        .json(
            "PUT",
            &risk,
            r#"{"quasi_identifiers":"SeriesDescription,Modality"}"#,
        )
        .await;
    let view = r.json();
    assert_eq!(r.status, 200, "{view}");
    assert_eq!(view["applied"], "Basic");
    assert_eq!(view["after"]["records"], 1, "one Patient ID in both files");
    let field = |id: &str| {
        view["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .cloned()
            .unwrap()
    };
    let desc = field("SeriesDescription");
    assert_eq!(desc["removed"], true, "{desc}");
    assert_eq!(desc["values"], serde_json::json!([]));
    assert!(desc["distinct_values"].is_null());
    assert!(
        !view.to_string().contains("HEAD SERIES"),
        "never the original's value"
    );
    let modality = field("Modality");
    assert_eq!(modality["removed"], false);
    assert_eq!(modality["values"], serde_json::json!([["OT", 1]]));
    // The settings stay for the next view; a wrong list is refused.
    let again = t.json("GET", &risk, "").await.json();
    assert_eq!(again["list"], "SeriesDescription,Modality");
    let r = t
        .json("PUT", &risk, r#"{"quasi_identifiers":"NoSuchThing"}"#)
        .await;
    assert_eq!(r.status, 400);
    let r = t.json("PUT", &risk, r#"{"population":0}"#).await;
    assert_eq!(r.status, 400);
}
