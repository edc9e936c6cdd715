//! Cards that act: suggestions with actions and uuids, override reasons (the pack's or the
//! defaults), links to the rule catalogue, and feedback checked against what a card offered.

use super::*;

const ORDER_SELECT: &str = "/cds-services/rxguard-order-select";

fn card_of<'a>(reply: &'a Reply, rule: &str) -> &'a Value {
    cards(reply)
        .iter()
        .find(|c| rule_of(c) == rule)
        .unwrap_or_else(|| panic!("no {rule} card in {:#}", reply.body))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<usize> = s.split('-').map(str::len).collect();
    parts == [8, 4, 4, 4, 12] && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cards_suggest_removing_the_draft_and_ordering_naloxone() {
    let server = insecure().await;
    // Without the rescue naloxone, the naloxone card fires too.
    let request = without_medication(order_select(), "naloxone-1");
    let reply = post(&server, ORDER_SELECT, None, &request).await;

    let combination = card_of(&reply, "opioid_with_benzodiazepine");
    assert_eq!(combination["selectionBehavior"], "any");
    let suggestions = combination["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 1, "{combination:#}");
    let remove = &suggestions[0];
    assert!(remove["label"].as_str().unwrap().contains("oxycodone"));
    assert_eq!(
        remove["actions"],
        json!([{"type": "delete", "description": remove["label"],
            "resourceId": ["MedicationRequest/draft-oxy"]}])
    );

    let naloxone = card_of(&reply, "opioid_without_naloxone");
    let labels: Vec<&str> = naloxone["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Remove the draft order for oxycodone hydrochloride 5 MG Oral Tablet",
            "Order naloxone 4 mg nasal spray for overdose rescue"
        ]
    );
    let create = &naloxone["suggestions"][1]["actions"][0];
    assert_eq!(create["type"], "create");
    let order = &create["resource"];
    assert_eq!(order["resourceType"], "MedicationRequest");
    assert_eq!(
        (&order["status"], &order["intent"]),
        (&json!("draft"), &json!("order"))
    );
    assert_eq!(order["subject"]["reference"], "Patient/p1");
    assert_eq!(
        order["medicationCodeableConcept"]["coding"][0]["code"],
        "1725059"
    );

    // Every card and suggestion has its own uuid, the same on every answer.
    let mut ids: Vec<&str> = Vec::new();
    for card in cards(&reply) {
        ids.push(card["uuid"].as_str().unwrap());
        for s in card["suggestions"].as_array().into_iter().flatten() {
            ids.push(s["uuid"].as_str().unwrap());
        }
    }
    assert!(ids.iter().all(|id| is_uuid(id)), "{ids:?}");
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    let again = post(&server, ORDER_SELECT, None, &request).await;
    assert_eq!(cards(&again), cards(&reply));

    // patient-view has no draft to remove; it still offers the naloxone order.
    let view = fixture("patient_view_tramadol_lorazepam");
    let reply = post(&server, "/cds-services/rxguard-patient-view", None, &view).await;
    let naloxone = card_of(&reply, "opioid_without_naloxone");
    let suggestions = naloxone["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 1);
    assert_eq!(suggestions[0]["actions"][0]["type"], "create");
    let combination = card_of(&reply, "opioid_with_benzodiazepine");
    assert!(combination.get("suggestions").is_none());
    assert!(
        combination.get("links").is_none(),
        "no catalogue configured"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_reasons_are_the_packs_or_the_defaults_and_links_name_the_rule() {
    let server = start_with(Config {
        catalogue_url: Some("https://cds.example.org/rules.html".into()),
        ..config()
    })
    .await;
    let reply = post(&server, ORDER_SELECT, None, &order_select()).await;
    let card = card_of(&reply, "opioid_with_benzodiazepine");
    let reasons = card["overrideReasons"].as_array().unwrap();
    assert!(reasons.contains(&json!({"code": ALTERNATIVES_INADEQUATE,
        "system": rxguard::serve::OVERRIDE_REASON_SYSTEM, "display": ALTERNATIVES_INADEQUATE})));
    assert_eq!(
        card["links"],
        json!([{"label": "rxguard rule catalogue: opioid_with_benzodiazepine",
            "url": "https://cds.example.org/rules.html#opioid_with_benzodiazepine",
            "type": "absolute"}])
    );

    // zolpidem at 86 (Beers): a rule whose pack gives no override reason.
    let mut view = fixture("patient_view_tramadol_lorazepam");
    view["prefetch"]["patient"]["birthDate"] = json!("1940-03-02");
    let mut zolpidem = view["prefetch"]["medications"]["entry"][0].clone();
    zolpidem["resource"]["id"] = json!("zolpidem-1");
    zolpidem["resource"]["medicationCodeableConcept"] =
        json!({"text": "zolpidem 10 MG Oral Tablet"});
    view["prefetch"]["medications"]["entry"]
        .as_array_mut()
        .unwrap()
        .push(zolpidem);
    let reply = post(&server, "/cds-services/rxguard-patient-view", None, &view).await;
    let card = card_of(&reply, "z_drug_elderly");
    let codes: Vec<&str> = card["overrideReasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, rxguard::serve::DEFAULT_OVERRIDE_REASONS);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_checked_against_the_reasons_and_suggestions_the_card_offered() {
    let log = log_path("feedback_checked");
    let server = start(Auth::InsecureNoAuth, Some(log.clone())).await;
    let feedback = "/cds-services/rxguard-order-select/feedback";
    let reply = post(&server, ORDER_SELECT, None, &order_select()).await;
    let card = card_of(&reply, "opioid_with_benzodiazepine");
    let uuid = card["uuid"].as_str().unwrap();
    let remove = card["suggestions"][0]["uuid"].as_str().unwrap();
    let at = "2026-11-01T10:15:00Z";

    let refused = [
        (
            json!({"card": uuid, "outcome": "overridden", "outcomeTimestamp": at,
                "overrideReason": {"reason": {"code": "Because I said so",
                    "system": rxguard::serve::OVERRIDE_REASON_SYSTEM}}}),
            "is not one the card offered",
        ),
        (
            json!({"card": uuid, "outcome": "accepted", "outcomeTimestamp": at,
                "acceptedSuggestions": [{"id": "9b1f0a56-0000-8000-8000-000000000000"}]}),
            "offered no suggestion",
        ),
        (
            json!({"card": uuid, "outcome": "accepted", "outcomeTimestamp": at,
                "overrideReason": {"userComment": "?"}}),
            "an `overrideReason` on an `accepted` outcome",
        ),
        (
            json!({"card": uuid, "outcome": "overridden", "outcomeTimestamp": at,
                "acceptedSuggestions": [{"id": remove}]}),
            "`acceptedSuggestions` on an `overridden` outcome",
        ),
    ];
    for (item, said) in refused {
        let reply = post(&server, feedback, None, &json!({"feedback": [item]})).await;
        assert_eq!(reply.status, 400, "{said}: {}", reply.body);
        let reason = reply.body["error"].as_str().unwrap();
        assert!(reason.contains(said), "{reason}");
    }
    assert!(!log.exists(), "nothing refused was written");

    let accepted = json!({"feedback": [
        {"card": uuid, "outcome": "accepted", "outcomeTimestamp": at,
            "acceptedSuggestions": [{"id": remove}]},
        feedback_body(uuid)["feedback"][0],
        // A card this service did not answer since it started (before a restart, say).
        feedback_body("29652120-0000-8000-8000-000000000000")["feedback"][0],
    ]});
    let reply = post(&server, feedback, None, &accepted).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let lines = log_lines(&log);
    let verified: Vec<&Value> = lines.iter().map(|l| &l["verified"]).collect();
    assert_eq!(verified, [&json!(true), &json!(true), &json!(false)]);
    assert_eq!(lines[0]["acceptedSuggestions"][0]["id"], remove);
    server.shutdown();
}
