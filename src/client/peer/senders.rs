//! What one connection sends: a track in place of another without renegotiating, and
//! the limits on the video senders.

use super::Peer;
use crate::mesh::budget::SenderLimits;
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStreamTrack, RtcRtpTransceiverDirection};

impl Peer {
    /// Caps what our video sender to this person may use; audio is never limited, and
    /// goes first when the link is short. The fields are set on the object
    /// `getParameters()` returned, as `setParameters()` requires.
    pub async fn limit_senders(&self, limits: SenderLimits) -> Result<(), JsValue> {
        use js_sys::Reflect;
        for sender in self.pc.get_senders().iter() {
            let sender = sender.unchecked_into::<web_sys::RtcRtpSender>();
            let Some(kind) = sender.track().map(|t| t.kind()) else {
                continue;
            };
            let params = sender.get_parameters();
            let encodings = Reflect::get(&params, &"encodings".into())?;
            let Some(encodings) = encodings.dyn_ref::<Array>().filter(|e| e.length() > 0) else {
                // Not negotiated yet: the limits are applied again once connected.
                continue;
            };
            let fields: [(&str, JsValue); 2] = if kind == "video" {
                [
                    ("maxBitrate", (limits.max_bitrate as f64).into()),
                    ("scaleResolutionDownBy", limits.scale_down_by.into()),
                ]
            } else {
                [
                    ("priority", "high".into()),
                    ("networkPriority", "high".into()),
                ]
            };
            for encoding in encodings.iter() {
                for (name, value) in &fields {
                    Reflect::set(&encoding, &JsValue::from_str(name), value)?;
                }
            }
            JsFuture::from(sender.set_parameters_with_parameters(&params)).await?;
        }
        Ok(())
    }

    /// Sends `track` (or nothing) as our `kind` ("audio" or "video"), without
    /// renegotiating when a sender exists; with none (we had no such device), the
    /// transceiver starts sending and the change is negotiated via `negotiationneeded`.
    pub async fn replace_track(
        &self,
        kind: &str,
        track: Option<&MediaStreamTrack>,
    ) -> Result<(), JsValue> {
        let transceiver = self
            .pc
            .get_transceivers()
            .iter()
            .map(|t| t.unchecked_into::<web_sys::RtcRtpTransceiver>())
            .find(|t| t.receiver().track().kind() == kind)
            .ok_or_else(|| format!("no {kind} in this call"))?;
        if track.is_some() && transceiver.direction() == RtcRtpTransceiverDirection::Recvonly {
            transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        }
        JsFuture::from(transceiver.sender().replace_track(track))
            .await
            .map(drop)
    }

    pub(super) fn sends(&self, kind: &str) -> bool {
        self.pc.get_senders().iter().any(|sender| {
            sender
                .unchecked_into::<web_sys::RtcRtpSender>()
                .track()
                .is_some_and(|track| track.kind() == kind)
        })
    }
}
