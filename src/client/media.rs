//! The local camera and microphone, with graceful fallbacks: a call goes ahead with
//! whatever the browser grants (both, one, or none), and says what is missing.

use super::error_name;
use crate::call_state::{Device, DeviceKind, Sound, SoundApplied};
use crate::mesh::notice::MediaNote;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaDevices, MediaStream, MediaStreamConstraints, MediaStreamTrack};

pub struct LocalMedia {
    pub stream: Option<MediaStream>,
    /// Said on the call screen when something is missing.
    pub note: Option<MediaNote>,
}

impl LocalMedia {
    /// Before the camera has been asked for.
    pub fn none() -> LocalMedia {
        LocalMedia {
            stream: None,
            note: None,
        }
    }

    /// Turns the camera and microphone off (their lights too).
    pub fn stop(&self) {
        if let Some(stream) = &self.stream {
            for track in stream.get_tracks().iter() {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
            }
        }
    }
}

pub async fn acquire() -> LocalMedia {
    let devices = match media_devices() {
        Ok(devices) => devices,
        Err(_) => {
            return LocalMedia {
                stream: None,
                note: Some(MediaNote::NotHere),
            }
        }
    };
    let first_error = match open(&devices, true, true).await {
        Ok(stream) => {
            return LocalMedia {
                stream: Some(stream),
                note: None,
            }
        }
        Err(e) => reason(&e),
    };
    if let Ok(stream) = open(&devices, true, false).await {
        return LocalMedia {
            stream: Some(stream),
            note: Some(MediaNote::AudioOnly(first_error)),
        };
    }
    if let Ok(stream) = open(&devices, false, true).await {
        return LocalMedia {
            stream: Some(stream),
            note: Some(MediaNote::NoMicrophone(first_error)),
        };
    }
    LocalMedia {
        stream: None,
        note: Some(MediaNote::NoMedia(first_error)),
    }
}

async fn open(devices: &MediaDevices, audio: bool, video: bool) -> Result<MediaStream, JsValue> {
    if audio && video {
        if let Some(early) = crate::early_media::take() {
            return stream_from(Ok(early)).await;
        }
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio_bool(audio);
    constraints.set_video_bool(video);
    stream_from(devices.get_user_media_with_constraints(&constraints)).await
}

/// Awaits a getUserMedia/getDisplayMedia promise.
async fn stream_from(promise: Result<js_sys::Promise, JsValue>) -> Result<MediaStream, JsValue> {
    JsFuture::from(promise?).await?.dyn_into()
}

/// The first track of the stream a media promise gives, or why there is none.
async fn first_track(
    promise: Result<js_sys::Promise, JsValue>,
    none: &str,
) -> Result<MediaStreamTrack, String> {
    let stream = stream_from(promise).await.map_err(|e| reason(&e))?;
    stream
        .get_tracks()
        .iter()
        .next()
        .map(|t| t.unchecked_into())
        .ok_or_else(|| none.to_string())
}

fn reason(error: &JsValue) -> String {
    match error_name(error).as_str() {
        "NotAllowedError" | "SecurityError" => "access was denied".into(),
        "NotFoundError" | "OverconstrainedError" => "none was found".into(),
        "NotReadableError" | "AbortError" => "it is in use by another program".into(),
        other => format!("it could not be opened: {other}"),
    }
}

/// A screen, window or tab the person picks, as one video track.
pub async fn display() -> Result<MediaStreamTrack, String> {
    first_track(
        media_devices()?.get_display_media(),
        "the browser shared no video",
    )
    .await
}

/// The cameras and microphones the browser offers (labels appear once access is granted).
pub async fn devices() -> Result<(Vec<Device>, Vec<Device>), String> {
    let devices = media_devices()?;
    let list: js_sys::Array = JsFuture::from(devices.enumerate_devices().map_err(|e| reason(&e))?)
        .await
        .map_err(|e| reason(&e))?
        .unchecked_into();
    let (mut cameras, mut microphones) = (Vec::new(), Vec::new());
    for info in list
        .iter()
        .map(|d| d.unchecked_into::<web_sys::MediaDeviceInfo>())
    {
        let device = Device {
            id: info.device_id(),
            label: info.label(),
        };
        match info.kind() {
            web_sys::MediaDeviceKind::Videoinput => cameras.push(device),
            web_sys::MediaDeviceKind::Audioinput => microphones.push(device),
            _ => {}
        }
    }
    Ok((cameras, microphones))
}

fn set(target: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), String> {
    js_sys::Reflect::set(target, &JsValue::from_str(key), value)
        .map(drop)
        .map_err(|e| reason(&e))
}

/// The constraints that ask for `sound`'s processing.
fn sound_constraints(sound: Sound) -> Result<js_sys::Object, String> {
    let constraints = js_sys::Object::new();
    set(
        &constraints,
        "noiseSuppression",
        &sound.noise_suppression.into(),
    )?;
    set(
        &constraints,
        "echoCancellation",
        &sound.echo_cancellation.into(),
    )?;
    set(&constraints, "autoGainControl", &sound.auto_gain.into())?;
    Ok(constraints)
}

/// Asks the live microphone track for `sound`'s processing (no renegotiation: the
/// track stays the one on the wire). Some browsers accept this and change nothing
/// (Chromium, docs/browsers.md): [`sound_applied`] tells.
pub async fn apply_sound(track: &MediaStreamTrack, sound: Sound) -> Result<(), String> {
    let constraints = sound_constraints(sound)?;
    let promise = track
        .apply_constraints_with_constraints(constraints.unchecked_ref())
        .map_err(|e| reason(&e))?;
    JsFuture::from(promise)
        .await
        .map(drop)
        .map_err(|e| reason(&e))
}

/// The sound processing the browser says it applies to `track`.
pub fn sound_applied(track: &MediaStreamTrack) -> SoundApplied {
    let settings = track.get_settings();
    let read = |key: &str| {
        js_sys::Reflect::get(&settings, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_bool())
    };
    SoundApplied {
        noise_suppression: read("noiseSuppression"),
        echo_cancellation: read("echoCancellation"),
        auto_gain: read("autoGainControl"),
    }
}

/// One track from the device with this id; a microphone with `sound`'s processing.
pub async fn open_device(
    kind: DeviceKind,
    id: &str,
    sound: Sound,
) -> Result<MediaStreamTrack, String> {
    let exact = js_sys::Object::new();
    let device = match kind {
        DeviceKind::Camera => js_sys::Object::new(),
        DeviceKind::Microphone => sound_constraints(sound)?,
    };
    set(&exact, "exact", &JsValue::from_str(id))?;
    set(&device, "deviceId", &exact)?;
    let constraints = MediaStreamConstraints::new();
    match kind {
        DeviceKind::Camera => constraints.set_video(&device),
        DeviceKind::Microphone => constraints.set_audio(&device),
    }
    first_track(
        media_devices()?.get_user_media_with_constraints(&constraints),
        "the device gave no track",
    )
    .await
}

/// The id of the device a track comes from.
pub fn device_id(track: &MediaStreamTrack) -> Option<String> {
    track.get_settings().get_device_id()
}

pub fn media_devices() -> Result<MediaDevices, String> {
    web_sys::window()
        .ok_or("no window")?
        .navigator()
        .media_devices()
        .map_err(|_| "no camera access on this page".to_string())
}

/// A short two-note chime: someone knocks at the locked room's door. Best effort: a
/// browser that has not been clicked yet may keep it silent (the prompt is on screen and
/// in the tab's title all the same).
pub fn knock_cue() {
    let Ok(audio) = web_sys::AudioContext::new() else {
        return;
    };
    let start = audio.current_time();
    for (i, hz) in [660.0_f32, 880.0].into_iter().enumerate() {
        let (Ok(tone), Ok(gain)) = (audio.create_oscillator(), audio.create_gain()) else {
            return;
        };
        let at = start + 0.18 * i as f64;
        tone.frequency().set_value(hz);
        gain.gain().set_value(0.0);
        let _ = gain.gain().linear_ramp_to_value_at_time(0.15, at + 0.02);
        let _ = gain.gain().linear_ramp_to_value_at_time(0.0, at + 0.16);
        let chained = tone
            .connect_with_audio_node(&gain)
            .and_then(|_| gain.connect_with_audio_node(&audio.destination()));
        if chained.is_err() || tone.start_with_when(at).is_err() {
            return;
        }
        let _ = tone.stop_with_when(at + 0.2);
    }
}
