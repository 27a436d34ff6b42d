//! "Check my connection", the browser side: asks the server for the ICE servers a call
//! would use (`GET /ice`), gathers candidates with them in a connection of its own that
//! never connects anywhere, and hands what it found to [`crate::mesh::network_check`],
//! which says what it means.

use crate::mesh::network_check::{CheckFailed, Findings};
use crate::protocol::signaling::{IceCheck, ICE_CHECK_PATH};
use futures::channel::mpsc;
use futures::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RtcConfiguration, RtcPeerConnection, RtcPeerConnectionIceEvent};

/// Gathering that takes longer than this is over: a relay that has not answered by then
/// would not do for a call either.
const GATHERING_LIMIT_MS: u32 = 8_000;

/// Gathers with the server's ICE servers; `Err` says what went wrong, for the person.
pub async fn gather() -> Result<Findings, CheckFailed> {
    let check = ice_servers()
        .await
        .map_err(|_| CheckFailed::ServerUnreachable)?;
    let urls = || check.ice_servers.iter().flat_map(|s| s.urls.iter());
    let mut findings = Findings {
        stun_configured: urls().any(|u| u.starts_with("stun:") || u.starts_with("turn")),
        relay_configured: urls().any(|u| u.starts_with("turn")),
        ..Findings::default()
    };
    let config = RtcConfiguration::new();
    config.set_ice_servers(&super::peer::ice_server_list(&check.ice_servers));
    let pc =
        RtcPeerConnection::new_with_configuration(&config).map_err(|_| CheckFailed::NoWebRtc)?;
    // One data channel gives the offer something to gather candidates for.
    let _channel = pc.create_data_channel("check");
    let (found, mut candidates) = mpsc::unbounded::<Option<String>>();
    let on_candidate = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let candidate = event
            .unchecked_into::<RtcPeerConnectionIceEvent>()
            .candidate()
            .map(|c| c.candidate());
        let _ = found.unbounded_send(candidate);
    });
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    let started = js_sys::Date::now();
    let gathered = async {
        let offer = JsFuture::from(pc.create_offer()).await?;
        let offer: web_sys::RtcSessionDescriptionInit = offer.unchecked_into();
        JsFuture::from(pc.set_local_description(&offer)).await?;
        Ok::<(), JsValue>(())
    };
    if gathered.await.is_err() {
        pc.close();
        return Err(CheckFailed::WouldNotStart);
    }
    let limit = gloo_timers::future::TimeoutFuture::new(GATHERING_LIMIT_MS);
    let reading = async {
        // A null candidate marks the end of gathering.
        while let Some(Some(candidate)) = candidates.next().await {
            match candidate_type(&candidate) {
                Some("host") => findings.host += 1,
                Some("srflx" | "prflx") => findings.server_reflexive += 1,
                Some("relay") => {
                    findings.relay += 1;
                    findings
                        .relay_ms
                        .get_or_insert(js_sys::Date::now() - started);
                }
                _ => {}
            }
        }
    };
    futures::future::select(Box::pin(reading), Box::pin(limit)).await;
    findings.relay_over_udp = super::stats_report::relay_over_udp(&pc)
        .await
        .unwrap_or(false);
    pc.set_onicecandidate(None);
    pc.close();
    Ok(findings)
}

/// `typ host` in `candidate:… typ host …`.
fn candidate_type(candidate: &str) -> Option<&str> {
    let mut words = candidate.split_whitespace();
    words.find(|w| *w == "typ")?;
    words.next()
}

async fn ice_servers() -> Result<IceCheck, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(ICE_CHECK_PATH))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_str("not ok"));
    }
    let text = JsFuture::from(response.text()?).await?;
    let text = text.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| JsValue::from_str(&e.to_string()))
}
