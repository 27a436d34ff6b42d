//! Reads `RTCPeerConnection.getStats()` into a [`StatsSample`].

use crate::stats::{CandidatePath, StatsSample};
use js_sys::{Map, Reflect};
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::RtcPeerConnection;

pub async fn sample(pc: &RtcPeerConnection) -> Result<StatsSample, JsValue> {
    let report: Map = JsFuture::from(pc.get_stats()).await?.unchecked_into();
    let mut by_id = HashMap::new();
    report.for_each(&mut |value, key| {
        if let Some(id) = key.as_string() {
            by_id.insert(id, value);
        }
    });
    let mut sample = StatsSample {
        at_ms: js_sys::Date::now(),
        ..StatsSample::default()
    };
    let mut selected_pair = None;
    let mut remote_rtt = None;
    for report in by_id.values() {
        match text(report, "type").as_deref() {
            Some("outbound-rtp") => {
                sample.bytes_sent += number(report, "bytesSent").unwrap_or(0.0);
                sample.bandwidth_limited |=
                    text(report, "qualityLimitationReason").as_deref() == Some("bandwidth");
                if let (Some(w), Some(h)) =
                    (number(report, "frameWidth"), number(report, "frameHeight"))
                {
                    sample.sent_frame = Some((w as u32, h as u32));
                }
            }
            Some("inbound-rtp") => {
                sample.bytes_received += number(report, "bytesReceived").unwrap_or(0.0);
                sample.packets_received += number(report, "packetsReceived").unwrap_or(0.0);
                sample.packets_lost += number(report, "packetsLost").unwrap_or(0.0);
                if text(report, "kind").as_deref() == Some("audio") {
                    sample.audio_level = number(report, "audioLevel");
                }
                if text(report, "kind").as_deref() == Some("video") {
                    if let (Some(w), Some(h)) =
                        (number(report, "frameWidth"), number(report, "frameHeight"))
                    {
                        sample.frame = Some((w as u32, h as u32));
                    }
                    sample.fps = number(report, "framesPerSecond");
                }
            }
            Some("transport") => {
                selected_pair =
                    text(report, "selectedCandidatePairId").and_then(|id| by_id.get(&id).cloned());
            }
            // What the far end reports of our video: its round trip, where the pair has
            // none (docs/browsers.md).
            Some("remote-inbound-rtp") => {
                remote_rtt = remote_rtt.or(number(report, "roundTripTime"));
                if text(report, "kind").as_deref() == Some("video") {
                    sample.fraction_lost = number(report, "fractionLost");
                }
            }
            _ => {}
        }
    }
    // Firefox has no transport stats: its pair in use says `selected` (its own field), or
    // is the nominated one that succeeded.
    if selected_pair.is_none() {
        let pairs = || {
            by_id
                .values()
                .filter(|r| text(r, "type").as_deref() == Some("candidate-pair"))
        };
        selected_pair = pairs()
            .find(|pair| flag(pair, "selected"))
            .or_else(|| {
                pairs().find(|pair| {
                    flag(pair, "nominated") && text(pair, "state").as_deref() == Some("succeeded")
                })
            })
            .cloned();
    }
    if let Some(pair) = selected_pair {
        sample.rtt_ms = number(&pair, "currentRoundTripTime")
            .or(remote_rtt)
            .map(|s| s * 1000.0);
        sample.available_outgoing_bps = number(&pair, "availableOutgoingBitrate");
        sample.path = text(&pair, "localCandidateId")
            .and_then(|id| by_id.get(&id))
            .map(|local| CandidatePath {
                candidate_type: text(local, "candidateType").unwrap_or_default(),
                protocol: text(local, "protocol").unwrap_or_default(),
                relay_protocol: text(local, "relayProtocol"),
            });
    }
    Ok(sample)
}

/// Whether a relay candidate of `pc` reaches its relay over UDP, from the local candidates'
/// stats (`relayProtocol`, which browsers fill in there but not always on the candidate).
pub async fn relay_over_udp(pc: &RtcPeerConnection) -> Result<bool, JsValue> {
    let report: Map = JsFuture::from(pc.get_stats()).await?.unchecked_into();
    let mut found = false;
    report.for_each(&mut |value, _| {
        found |= text(&value, "type").as_deref() == Some("local-candidate")
            && text(&value, "candidateType").as_deref() == Some("relay")
            && text(&value, "relayProtocol").as_deref() == Some("udp");
    });
    Ok(found)
}

fn field(report: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(report, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn flag(report: &JsValue, name: &str) -> bool {
    field(report, name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn text(report: &JsValue, name: &str) -> Option<String> {
    field(report, name)?.as_string()
}

fn number(report: &JsValue, name: &str) -> Option<f64> {
    field(report, name)?.as_f64()
}
