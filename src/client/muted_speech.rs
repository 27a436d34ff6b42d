//! Listens to the microphone while it is switched off, so the page can say "You are
//! muted" to someone talking anyway. What counts as talking is
//! [`crate::mesh::speaker::MutedSpeech`]'s to decide.
//!
//! Nothing here runs on the Mute press: the copy of the microphone and its audio graph
//! are made once per microphone, a second after it opens, and only read while muted.
//! (Made on each press, the copy and the graph held Mute's answer up by 200 ms and more:
//! found by the hostile-peer test, where Mute must answer within 200 ms.)

use crate::mesh::speaker::MutedSpeech;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use web_sys::{AudioContext, MediaStream, MediaStreamTrack};

/// How often the level is read.
const SAMPLE_MS: u32 = 100;
/// How long after the microphone opens the listening is set up, out of the way of the
/// call's start.
const SETTLE_MS: u32 = 1_000;

thread_local! {
    /// The page's one audio context for listening.
    static CONTEXT: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

fn context() -> Option<AudioContext> {
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        if context.is_none() {
            *context = AudioContext::new().ok();
        }
        context.clone()
    })
}

/// A copy of one microphone's track, always enabled, whose level is read while the
/// person is muted, until this is dropped (the microphone is replaced, or the call ends).
pub struct MutedListener {
    alive: Rc<Cell<bool>>,
    /// The copy, once made: ended the moment this is dropped, so the microphone can be
    /// opened afresh (with other processing) right after.
    copy: Rc<RefCell<Option<MediaStreamTrack>>>,
    hint: RwSignal<bool>,
}

impl MutedListener {
    /// Listens to `microphone` while `microphone_on` is false; `hint` says whether to show
    /// the hint.
    pub fn start(
        microphone: &MediaStreamTrack,
        microphone_on: RwSignal<bool>,
        hint: RwSignal<bool>,
    ) -> MutedListener {
        let alive = Rc::new(Cell::new(true));
        let copy: Rc<RefCell<Option<MediaStreamTrack>>> = Rc::default();
        let microphone = Clone::clone(microphone);
        let (listening, made) = (Rc::clone(&alive), Rc::clone(&copy));
        spawn_local(async move {
            TimeoutFuture::new(SETTLE_MS).await;
            if !listening.get() {
                return;
            }
            // The JS `clone()`: a track of its own, always on, from the same microphone.
            let track = microphone.clone();
            *made.borrow_mut() = Some(Clone::clone(&track));
            listen(&track, &listening, microphone_on, hint).await;
        });
        MutedListener { alive, copy, hint }
    }
}

/// Reads the track's level while muted, until `alive` is unset.
async fn listen(
    track: &MediaStreamTrack,
    alive: &Cell<bool>,
    microphone_on: RwSignal<bool>,
    hint: RwSignal<bool>,
) {
    track.set_enabled(true);
    let Some(context) = context() else {
        return;
    };
    // Made after a click (Join, or the home form's), so the browser lets it run.
    let _ = context.resume();
    let wired = (|| {
        let stream = MediaStream::new_with_tracks(&js_sys::Array::of1(track)).ok()?;
        let source = context.create_media_stream_source(&stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(1024);
        source.connect_with_audio_node(&analyser).ok()?;
        Some((source, analyser))
    })();
    let Some((source, analyser)) = wired else {
        return;
    };
    let mut heard = MutedSpeech::default();
    let mut samples = vec![0.0_f32; analyser.fft_size() as usize];
    while alive.get() {
        let show = if microphone_on.try_get_untracked() == Some(false) {
            analyser.get_float_time_domain_data(&mut samples);
            let power: f32 = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
            heard.sample(f64::from(power.sqrt()), crate::client::clock::now())
        } else {
            // Unmuted: what was heard before does not count towards the next mute.
            heard = MutedSpeech::default();
            false
        };
        if hint.try_get_untracked() != Some(show) {
            hint.set(show);
        }
        TimeoutFuture::new(SAMPLE_MS).await;
    }
    let _ = source.disconnect();
}

impl Drop for MutedListener {
    fn drop(&mut self) {
        self.alive.set(false);
        if let Some(copy) = self.copy.borrow_mut().take() {
            copy.stop();
        }
        self.hint.set(false);
    }
}
