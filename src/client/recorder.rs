//! Records the call as this person sees it: every tile on the stage drawn into a canvas
//! (the grid, or the one shown large with the others beside it), and everyone's sound,
//! with this person's microphone, mixed by WebAudio, into a WebM file by `MediaRecorder`.
//!
//! The tiles and the sound are found again while recording: someone arriving or leaving,
//! a camera or microphone switched, a screen shared, all change what is drawn and mixed
//! without stopping the recording. The file's pieces stay `Blob`s in the browser (never
//! copied into wasm memory) until it stops, when they become one file to save.

use crate::call_state::{CallState, Recording, SavedRecording};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    AudioContext, Blob, BlobEvent, CanvasRenderingContext2d, HtmlCanvasElement, HtmlVideoElement,
    MediaRecorder, MediaRecorderOptions, MediaStream, MediaStreamAudioDestinationNode,
    MediaStreamAudioSourceNode, MediaStreamTrack,
};

/// The recording's picture size and frame rate.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const FPS: u32 = 25;
/// How often the tiles' sound is looked for again, in frames (twice a second).
const AUDIO_EVERY: u32 = 12;
/// The pieces `MediaRecorder` hands over, one a second: the size shown grows with them.
const SLICE_MS: i32 = 1_000;
/// What is asked of `MediaRecorder`, in order of preference.
const TYPES: [&str; 3] = [
    "video/webm;codecs=vp8,opus",
    "video/webm;codecs=vp9,opus",
    "video/webm",
];

/// A recording under way. Dropping it does not stop it: [`Recorder::stop`] does, and
/// offers the file.
pub struct Recorder {
    media: MediaRecorder,
    audio: AudioContext,
    /// Drawing and mixing go on while set.
    alive: Rc<Cell<bool>>,
    view: CallState,
}

impl Recorder {
    /// Starts recording; `local` is this person's camera and microphone stream (its tracks
    /// change in place when a device is switched), `room` names the file. The file stays
    /// on offer after the call ends, until the page goes (its address is the page's).
    pub fn start(
        local: Option<MediaStream>,
        room: &str,
        view: CallState,
    ) -> Result<Recorder, String> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let canvas: HtmlCanvasElement = document
            .create_element("canvas")
            .map_err(|_| "no canvas")?
            .unchecked_into();
        canvas.set_width(WIDTH);
        canvas.set_height(HEIGHT);
        let context: CanvasRenderingContext2d = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .ok_or("no 2D canvas")?
            .unchecked_into();
        let audio = AudioContext::new().map_err(|_| "no WebAudio")?;
        let _ = audio.resume();
        let mix = audio
            .create_media_stream_destination()
            .map_err(|_| "no WebAudio destination")?;
        let picture = canvas
            .capture_stream_with_frame_request_rate(f64::from(FPS))
            .map_err(|_| "the canvas cannot be captured")?;
        let tracks = js_sys::Array::new();
        for track in picture.get_video_tracks().iter() {
            tracks.push(&track);
        }
        for track in mix.stream().get_audio_tracks().iter() {
            tracks.push(&track);
        }
        let stream = MediaStream::new_with_tracks(&tracks).map_err(|_| "no stream")?;
        let options = MediaRecorderOptions::new();
        let mime = TYPES
            .into_iter()
            .find(|t| MediaRecorder::is_type_supported(t))
            .ok_or("this browser cannot record WebM")?;
        options.set_mime_type(mime);
        let media =
            MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options)
                .map_err(|e| super::error_name(&e))?;

        let chunks: Rc<RefCell<Vec<Blob>>> = Rc::default();
        let bytes = Rc::new(Cell::new(0.0));
        let on_data = {
            let (chunks, bytes) = (Rc::clone(&chunks), Rc::clone(&bytes));
            Closure::<dyn FnMut(BlobEvent)>::new(move |event: BlobEvent| {
                if let Some(blob) = event.data() {
                    bytes.set(bytes.get() + blob.size());
                    chunks.borrow_mut().push(blob);
                }
            })
        };
        let started = js_sys::Date::now();
        let name = file_name(room, started);
        // Time recorded, pauses left out: written into the file as its length.
        let recorded_ms = Rc::new(Cell::new(0.0));
        let on_stop = {
            let (chunks, recorded_ms) = (Rc::clone(&chunks), Rc::clone(&recorded_ms));
            Closure::<dyn FnMut()>::new(move || {
                let pieces: Vec<Blob> = chunks.borrow_mut().drain(..).collect();
                let (name, duration) = (name.clone(), recorded_ms.get());
                spawn_local(async move {
                    let Some(file) = one_file(pieces, duration).await else {
                        return;
                    };
                    if let Ok(url) = web_sys::Url::create_object_url_with_blob(&file) {
                        view.recordings.update(|all| {
                            all.push(SavedRecording {
                                url,
                                name,
                                bytes: file.size() as u64,
                            })
                        });
                    }
                });
            })
        };
        // Handed to the browser for good: `stop` fires after `Recorder::stop` returns, and
        // the last piece with it. (Two small closures per recording stay allocated.)
        let (on_data, on_stop) = (on_data.into_js_value(), on_stop.into_js_value());
        media.set_ondataavailable(Some(on_data.unchecked_ref()));
        media.set_onstop(Some(on_stop.unchecked_ref()));
        media
            .start_with_time_slice(SLICE_MS)
            .map_err(|e| super::error_name(&e))?;

        let alive = Rc::new(Cell::new(true));
        let recorder = Recorder {
            media: media.clone(),
            audio: audio.clone(),
            alive: Rc::clone(&alive),
            view,
        };
        view.recording.set(Some(Recording {
            elapsed_ms: 0.0,
            bytes: 0,
            paused: false,
        }));
        spawn_local(async move {
            let mut sounds = Sounds::new(audio, mix);
            let mut elapsed = 0.0;
            let mut last = js_sys::Date::now();
            for frame in 0_u32.. {
                TimeoutFuture::new(1_000 / FPS).await;
                if !alive.get() {
                    break;
                }
                let now = js_sys::Date::now();
                let paused = media.state() == web_sys::RecordingState::Paused;
                if !paused {
                    elapsed += now - last;
                    recorded_ms.set(elapsed);
                }
                last = now;
                draw(&document, &context);
                if frame % AUDIO_EVERY == 0 {
                    sounds.follow(&document, local.as_ref());
                    view.recording.set(Some(Recording {
                        elapsed_ms: elapsed,
                        bytes: bytes.get() as u64,
                        paused,
                    }));
                }
            }
            sounds.stop();
        });
        Ok(recorder)
    }

    pub fn pause(&self) {
        let _ = self.media.pause();
        self.view
            .recording
            .update(|r| r.iter_mut().for_each(|r| r.paused = true));
    }

    pub fn resume(&self) {
        let _ = self.media.resume();
        self.view
            .recording
            .update(|r| r.iter_mut().for_each(|r| r.paused = false));
    }

    /// Stops recording; the file is offered for saving once the browser has handed over
    /// its last piece.
    pub fn stop(self) {
        self.alive.set(false);
        if self.media.state() != web_sys::RecordingState::Inactive {
            let _ = self.media.stop();
        }
        let _ = self.audio.close();
        self.view.recording.set(None);
    }
}

/// How much of the first piece is read to write the length into the file: its head
/// (EBML and the segment's info) is a few hundred bytes.
const HEAD_BYTES: f64 = 64.0 * 1024.0;

/// The pieces as one WebM file, with its length written in (`webm::with_duration`): only
/// the head of the first piece is read into wasm memory. If the head cannot be rewritten,
/// the file is kept as recorded.
async fn one_file(pieces: Vec<Blob>, duration_ms: f64) -> Option<Blob> {
    let parts = js_sys::Array::new();
    let mut pieces = pieces.into_iter();
    if let Some(first) = pieces.next() {
        let head_bytes = first.size().min(HEAD_BYTES);
        let head = first.slice_with_f64_and_f64(0.0, head_bytes).ok()?;
        let head = wasm_bindgen_futures::JsFuture::from(head.array_buffer())
            .await
            .ok()
            .map(|buffer| js_sys::Uint8Array::new(&buffer).to_vec());
        match head.map(|head| crate::webm::with_duration(&head, duration_ms)) {
            Some(Ok(edited)) => {
                let rest = first.slice_with_f64(head_bytes).ok()?;
                parts.push(&JsValue::from(js_sys::Uint8Array::from(&edited[..])));
                parts.push(&JsValue::from(rest));
            }
            Some(Err(why)) => {
                leptos::logging::warn!("the recording's length was not written in: {why}");
                parts.push(&JsValue::from(first));
            }
            None => {
                parts.push(&JsValue::from(first));
            }
        }
    }
    for piece in pieces {
        parts.push(&piece);
    }
    let kind = web_sys::BlobPropertyBag::new();
    kind.set_type("video/webm");
    Blob::new_with_buffer_source_sequence_and_options(&parts, &kind).ok()
}

/// `tandem-<room>-<YYYY-MM-DD>-<HHMM>.webm`, in the person's local time.
fn file_name(room: &str, at_ms: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(at_ms));
    // The room passed validate_room: letters, digits, '-' and '_', safe in a file name.
    format!(
        "tandem-{room}-{:04}-{:02}-{:02}-{:02}{:02}.webm",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes()
    )
}

/// Draws the stage's tiles: the one shown large (if any) big with the others in a column
/// beside it, else all in a grid; each with its name. A tile whose camera is off is its
/// name on grey.
fn draw(document: &web_sys::Document, context: &CanvasRenderingContext2d) {
    let (w, h) = (f64::from(WIDTH), f64::from(HEIGHT));
    context.set_fill_style_str("#0b0d12");
    context.fill_rect(0.0, 0.0, w, h);
    let Ok(tiles) = document.query_selector_all(".stage .tile:not(.waiting)") else {
        return;
    };
    let tiles: Vec<web_sys::Element> = (0..tiles.length())
        .filter_map(|i| tiles.item(i))
        .filter_map(|node| node.dyn_into::<web_sys::Element>().ok())
        .collect();
    let large = tiles.iter().position(|t| t.class_list().contains("large"));
    let cells: Vec<(f64, f64, f64, f64)> = match large {
        Some(_) if tiles.len() > 1 => {
            let side = (tiles.len() - 1) as f64;
            let strip = w * 0.25;
            let mut cells = Vec::new();
            let mut next = 0.0;
            for (i, _) in tiles.iter().enumerate() {
                if Some(i) == large {
                    cells.push((0.0, 0.0, w - strip, h));
                } else {
                    cells.push((w - strip, next, strip, h / side));
                    next += h / side;
                }
            }
            cells
        }
        _ => {
            let n = tiles.len().max(1);
            let columns = (n as f64).sqrt().ceil();
            let rows = (n as f64 / columns).ceil();
            (0..n)
                .map(|i| {
                    let (cw, ch) = (w / columns, h / rows);
                    let (col, row) = ((i as f64) % columns, (i as f64 / columns).floor());
                    (col * cw, row * ch, cw, ch)
                })
                .collect()
        }
    };
    for (tile, (x, y, cw, ch)) in tiles.iter().zip(cells) {
        let name = super::stage::caption(tile);
        let video = super::stage::video(tile);
        let showing = video
            .as_ref()
            .filter(|v| v.video_width() > 0 && !tile.class_list().contains("camera-off"));
        match showing {
            Some(video) => {
                // Fitted whole (a shared screen is never cropped), centred in its cell.
                let (vw, vh) = (
                    f64::from(video.video_width()),
                    f64::from(video.video_height()),
                );
                let scale = (cw / vw).min(ch / vh);
                let (dw, dh) = (vw * scale, vh * scale);
                let _ = context.draw_image_with_html_video_element_and_dw_and_dh(
                    video,
                    x + (cw - dw) / 2.0,
                    y + (ch - dh) / 2.0,
                    dw,
                    dh,
                );
            }
            None => {
                context.set_fill_style_str("#1c2130");
                context.fill_rect(x + 2.0, y + 2.0, cw - 4.0, ch - 4.0);
            }
        }
        context.set_font("600 20px system-ui, sans-serif");
        context.set_fill_style_str("rgba(0, 0, 0, 0.55)");
        let width = context
            .measure_text(&name)
            .map(|m| m.width())
            .unwrap_or(0.0);
        context.fill_rect(x + 8.0, y + ch - 38.0, width + 16.0, 30.0);
        context.set_fill_style_str("#ffffff");
        let _ = context.fill_text(&name, x + 16.0, y + ch - 16.0);
    }
}

/// Everyone's sound, mixed: each audio track on the stage and this person's microphone,
/// connected while it is there.
struct Sounds {
    audio: AudioContext,
    mix: MediaStreamAudioDestinationNode,
    /// By track id.
    sources: HashMap<String, MediaStreamAudioSourceNode>,
}

impl Sounds {
    fn new(audio: AudioContext, mix: MediaStreamAudioDestinationNode) -> Sounds {
        Sounds {
            audio,
            mix,
            sources: HashMap::new(),
        }
    }

    /// Connects the tracks that arrived and disconnects those gone.
    fn follow(&mut self, document: &web_sys::Document, local: Option<&MediaStream>) {
        let mut tracks: Vec<MediaStreamTrack> = Vec::new();
        let mut add = |stream: &MediaStream| {
            for track in stream.get_audio_tracks().iter() {
                let track: MediaStreamTrack = track.unchecked_into();
                if track.ready_state() == web_sys::MediaStreamTrackState::Live {
                    tracks.push(track);
                }
            }
        };
        if let Some(local) = local {
            add(local);
        }
        if let Ok(videos) = document.query_selector_all(".stage .tile.remote video") {
            for i in 0..videos.length() {
                let stream = videos
                    .item(i)
                    .and_then(|v| v.dyn_into::<HtmlVideoElement>().ok())
                    .and_then(|v| v.src_object());
                if let Some(stream) = stream {
                    add(&stream);
                }
            }
        }
        let ids: Vec<String> = tracks.iter().map(MediaStreamTrack::id).collect();
        self.sources.retain(|id, source| {
            let here = ids.contains(id);
            if !here {
                let _ = source.disconnect();
            }
            here
        });
        for track in tracks {
            let id = track.id();
            if self.sources.contains_key(&id) {
                continue;
            }
            let source = MediaStream::new_with_tracks(&js_sys::Array::of1(&track))
                .ok()
                .and_then(|stream| self.audio.create_media_stream_source(&stream).ok());
            if let Some(source) = source {
                if source.connect_with_audio_node(&self.mix).is_ok() {
                    self.sources.insert(id, source);
                }
            }
        }
    }

    fn stop(&mut self) {
        for (_, source) in self.sources.drain() {
            let _ = source.disconnect();
        }
    }
}
