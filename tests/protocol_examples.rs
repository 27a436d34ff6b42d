//! Every JSON example in docs/protocol.md is a message the code accepts. Each ```json block
//! is decoded with the decoder that reads that contract for real, chosen by the headings the
//! block sits under; every field an example shows must survive decoding (unknown fields are
//! ignored on the wire, so a misspelt one would otherwise pass); and every kind of message
//! has an example.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use tandem::protocol::file::{FileFrame, MAX_FILE_FRAME_BYTES};
use tandem::protocol::peer::PeerMessage;
use tandem::protocol::signaling::{ClientMessage, IceCheck, ServerMessage};

const DOC: &str = "docs/protocol.md";

/// The contracts the doc shows examples of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Contract {
    ClientMessage,
    ServerMessage,
    IceCheck,
    PeerMessage,
    FileFrame,
}

impl Contract {
    /// The contract of the examples under these headings (`##`, then `###` or "").
    fn under(section: &str, subsection: &str) -> Option<Contract> {
        Some(match section {
            "Client → server" => Contract::ClientMessage,
            "Server → client" if subsection.starts_with("`GET /ice`") => Contract::IceCheck,
            "Server → client" => Contract::ServerMessage,
            "Between the browsers: data channels" if subsection.starts_with("The chat channel") => {
                Contract::PeerMessage
            }
            "Between the browsers: data channels" if subsection.starts_with("File channels") => {
                Contract::FileFrame
            }
            // "Between servers (Redis)": `Envelope` is private to the cluster, so an example
            // there would have no decoder here, and is refused until it has one.
            _ => return None,
        })
    }

    /// Decodes one example as the code does, and encodes it back.
    fn decode(self, text: &str) -> Result<Value, String> {
        match self {
            // Both ends read socket frames with serde_json (the server once it has sized
            // the frame against `max_message_bytes`).
            Contract::ClientMessage => encoded(serde_json::from_str::<ClientMessage>(text)),
            Contract::ServerMessage => encoded(serde_json::from_str::<ServerMessage>(text)),
            Contract::IceCheck => encoded(serde_json::from_str::<IceCheck>(text)),
            Contract::PeerMessage => encoded(PeerMessage::decode(text)),
            Contract::FileFrame => encoded(FileFrame::decode(text).ok_or_else(|| {
                match serde_json::from_str::<FileFrame>(text) {
                    Err(e) => e.to_string(),
                    Ok(_) => format!("over {MAX_FILE_FRAME_BYTES} bytes"),
                }
            })),
        }
    }
}

fn encoded<T: Serialize, E: Display>(decoded: Result<T, E>) -> Result<Value, String> {
    let message = decoded.map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(message).expect("protocol messages always serialize"))
}

/// Every `type` a message enum knows, as serde names them: asked for one it does not
/// know, it answers "unknown variant `?`, expected one of `join`, `resume`, …".
fn kinds<T: DeserializeOwned + std::fmt::Debug>() -> BTreeSet<String> {
    let refusal = serde_json::from_str::<T>(r#"{"type": "?"}"#)
        .expect_err("no message has the type `?`")
        .to_string();
    let (_, listed) = refusal
        .split_once("expected one of ")
        .expect("serde lists the types it knows");
    listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The first field `example` shows that `decoded` lacks or holds otherwise, if any (a
/// field shown as `null` may be left out).
fn lost_field(example: &Value, decoded: &Value, path: &str) -> Option<String> {
    match (example, decoded) {
        (Value::Object(shown), Value::Object(kept)) => shown.iter().find_map(|(key, value)| {
            let path = format!("{path}.{key}");
            match kept.get(key) {
                None if value.is_null() => None,
                None => Some(path),
                Some(kept) => lost_field(value, kept, &path),
            }
        }),
        (Value::Array(shown), Value::Array(kept)) if shown.len() == kept.len() => shown
            .iter()
            .zip(kept)
            .enumerate()
            .find_map(|(i, (shown, kept))| lost_field(shown, kept, &format!("{path}[{i}]"))),
        _ if example == decoded => None,
        _ => Some(path.to_owned()),
    }
}

/// What reading a doc found.
#[derive(Debug, Default)]
struct Report {
    /// Lines opening a ```json block.
    blocks_found: usize,
    /// Blocks read to their end: each message decoded, or its failure recorded below.
    blocks_checked: usize,
    /// Messages decoded, per contract.
    messages: BTreeMap<Contract, usize>,
    /// The `type`s seen, per contract.
    kinds: BTreeMap<Contract, BTreeSet<String>>,
    failures: Vec<String>,
}

/// The messages of a block, each with its offset in the block: one or several, one after
/// another, each on one line or several.
fn messages(block: &str) -> Result<Vec<(usize, &str)>, String> {
    let mut stream = serde_json::Deserializer::from_str(block).into_iter::<IgnoredAny>();
    let mut messages = Vec::new();
    let mut start = 0;
    while let Some(next) = stream.next() {
        next.map_err(|e| format!("not JSON: {e}"))?;
        let end = stream.byte_offset();
        let message = block[start..end].trim_start();
        messages.push((end - message.len(), message.trim_end()));
        start = end;
    }
    Ok(messages)
}

/// Decodes every ```json block of `doc`.
fn check(doc: &str) -> Report {
    let mut report = Report {
        blocks_found: doc
            .lines()
            .filter(|line| line.trim_start().starts_with("```json"))
            .count(),
        ..Report::default()
    };
    let (mut section, mut subsection) = ("", "");
    let mut lines = doc.lines().zip(1..);
    while let Some((line, opened_at)) = lines.next() {
        if let Some(heading) = line.strip_prefix("## ") {
            (section, subsection) = (heading.trim(), "");
        } else if let Some(heading) = line.strip_prefix("### ") {
            subsection = heading.trim();
        }
        if !line.trim_start().starts_with("```") {
            continue;
        }
        // A fence: read to its end, so that nothing inside it reads as a heading.
        let block: String = lines
            .by_ref()
            .take_while(|(line, _)| line.trim() != "```")
            .map(|(line, _)| format!("{line}\n"))
            .collect();
        if !line.trim_start().starts_with("```json") {
            continue;
        }
        report.blocks_checked += 1;
        let place = format!("{DOC}:{opened_at} (under \"## {section}\" / \"### {subsection}\")");
        let Some(contract) = Contract::under(section, subsection) else {
            report
                .failures
                .push(format!("{place}: no decoder for these headings"));
            continue;
        };
        let messages = match messages(&block) {
            Ok(messages) if messages.is_empty() => Err("an empty block".to_owned()),
            other => other,
        };
        let messages = match messages {
            Ok(messages) => messages,
            Err(e) => {
                report.failures.push(format!("{place}: {e}"));
                continue;
            }
        };
        for (offset, message) in messages {
            let line = opened_at + 1 + block[..offset].matches('\n').count();
            let decoded = match contract.decode(message) {
                Ok(decoded) => decoded,
                Err(e) => {
                    let e = format!("{place}, line {line}: {contract:?} refuses it: {e}");
                    report.failures.push(e);
                    continue;
                }
            };
            *report.messages.entry(contract).or_default() += 1;
            if let Some(kind) = decoded.get("type").and_then(Value::as_str) {
                let kinds = report.kinds.entry(contract).or_default();
                kinds.insert(kind.to_owned());
            }
            let example: Value = serde_json::from_str(message).expect("it was read as JSON");
            if let Some(field) = lost_field(&example, &decoded, "") {
                report.failures.push(format!(
                    "{place}, line {line}: {contract:?} does not keep `{field}` as shown"
                ));
            }
        }
    }
    report
}

fn protocol_doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    std::fs::read_to_string(path).expect("docs/protocol.md is readable")
}

#[test]
fn every_json_example_in_the_protocol_doc_decodes() {
    let report = check(&protocol_doc());
    assert!(
        report.failures.is_empty(),
        "examples the code does not read as shown:\n{}",
        report.failures.join("\n")
    );
    assert!(
        report.blocks_checked >= report.blocks_found && report.blocks_found > 0,
        "{} ```json blocks found, {} checked",
        report.blocks_found,
        report.blocks_checked
    );
    println!(
        "{} blocks; messages: {:?}",
        report.blocks_checked, report.messages
    );
}

#[test]
fn every_kind_of_message_has_an_example_in_the_protocol_doc() {
    let report = check(&protocol_doc());
    let known = [
        (Contract::ClientMessage, kinds::<ClientMessage>()),
        (Contract::ServerMessage, kinds::<ServerMessage>()),
        (Contract::PeerMessage, kinds::<PeerMessage>()),
        (Contract::FileFrame, kinds::<FileFrame>()),
    ];
    let missing: Vec<String> = known
        .into_iter()
        .flat_map(|(contract, kinds)| {
            let shown = report.kinds.get(&contract).cloned().unwrap_or_default();
            kinds
                .into_iter()
                .filter(move |kind| !shown.contains(kind))
                .map(move |kind| format!("{contract:?} `{kind}`"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no example in {DOC} of: {}",
        missing.join(", ")
    );
}

#[test]
fn a_wrong_example_is_reported_with_its_heading_and_line() {
    let doc = "## Client → server\n### `resume`\n```json\n{\"type\": \"leave\"}\n\
               {\"type\": \"resume\", \"token\": \"t\", \"frseh\": true}\n\
               {\"type\": \"join\",\n \"room\": 5}\n```\n\
               ## Between servers (Redis)\n```json\n{\"kind\": \"left\"}\n```\n";
    let report = check(doc);
    assert_eq!((report.blocks_found, report.blocks_checked), (2, 2));
    let under = "docs/protocol.md:3 (under \"## Client → server\" / \"### `resume`\")";
    assert!(
        report.failures[0].starts_with(&format!("{under}, line 5: ")),
        "{report:?}"
    );
    assert!(report.failures[0].ends_with("does not keep `.frseh` as shown"));
    assert!(report.failures[1].starts_with(&format!("{under}, line 6: ClientMessage refuses")));
    assert!(report.failures[2].starts_with("docs/protocol.md:10 (under \"## Between servers"));
    assert_eq!(report.failures.len(), 3);
}
