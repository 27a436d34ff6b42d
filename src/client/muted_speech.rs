//! Listens to the microphone while it is switched off, so the page can say "You are
//! muted" to someone talking anyway. What counts as talking is
//! [`crate::mesh::speaker::MutedSpeech`]'s to decide.

use crate::mesh::speaker::MutedSpeech;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::Cell;
use std::rc::Rc;
use web_sys::{AudioContext, MediaStream, MediaStreamTrack};

/// How often the level is read.
const SAMPLE_MS: u32 = 100;

/// A copy of the microphone's track, still enabled while the one on the wire is not,
/// measured until this is dropped (when the microphone goes back on, or the call ends).
pub struct MutedListener {
    alive: Rc<Cell<bool>>,
    context: AudioContext,
    track: MediaStreamTrack,
    hint: RwSignal<bool>,
}

impl MutedListener {
    /// Starts listening to `microphone`; `hint` says whether to show the hint.
    pub fn start(microphone: &MediaStreamTrack, hint: RwSignal<bool>) -> Option<MutedListener> {
        // The JS `clone()`: a track of its own, switched on, from the same microphone.
        let track = microphone.clone();
        track.set_enabled(true);
        let context = AudioContext::new().ok()?;
        let listening = (|| {
            let stream = MediaStream::new_with_tracks(&js_sys::Array::of1(&track)).ok()?;
            let source = context.create_media_stream_source(&stream).ok()?;
            let analyser = context.create_analyser().ok()?;
            analyser.set_fft_size(1024);
            source.connect_with_audio_node(&analyser).ok()?;
            Some(analyser)
        })();
        let listener = MutedListener {
            alive: Rc::new(Cell::new(true)),
            context,
            track,
            hint,
        };
        let analyser = listening?;
        // Started by a click or a key (Mute), so the browser lets it run.
        let _ = listener.context.resume();
        let alive = Rc::clone(&listener.alive);
        spawn_local(async move {
            let mut heard = MutedSpeech::default();
            let mut samples = vec![0.0_f32; analyser.fft_size() as usize];
            loop {
                TimeoutFuture::new(SAMPLE_MS).await;
                if !alive.get() {
                    break;
                }
                analyser.get_float_time_domain_data(&mut samples);
                let power: f32 = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
                let show = heard.sample(f64::from(power.sqrt()), js_sys::Date::now());
                if hint.try_get_untracked() != Some(show) {
                    hint.set(show);
                }
            }
        });
        Some(listener)
    }
}

impl Drop for MutedListener {
    fn drop(&mut self) {
        self.alive.set(false);
        let _ = self.context.close();
        self.track.stop();
        self.hint.set(false);
    }
}
