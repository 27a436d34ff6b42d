//! Pop out: the call in a small window that stays over other windows. Document
//! Picture-in-Picture where the browser has it (the active speaker, large, with Mute and
//! Hang up), else the video picture-in-picture of the active speaker. Either follows
//! whoever speaks, until it is closed or the call ends.

use crate::call_state::{CallState, PopOutWords, UiCommand};
use crate::mesh::notice::Notice;
use crate::mesh::CallStatus;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Object, Reflect};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, HtmlElement, HtmlVideoElement, MediaStream, Window};

/// How often the window looks again for who speaks.
const FOLLOW_MS: u32 = 500;
/// The pop-out window's size, in CSS pixels.
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 280.0;

/// What the small window is made of, in its own document.
const STYLE: &str = "
  body { margin: 0; background: #0b0d12; color: #e8ebf2; font: 14px system-ui, sans-serif;
         display: grid; grid-template-rows: 1fr auto; height: 100vh; }
  video { width: 100%; height: 100%; object-fit: contain; background: #000; min-height: 0; }
  .bar { display: flex; gap: .5rem; align-items: center; padding: .4rem .6rem; }
  .who { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  button { border: 0; border-radius: 999px; padding: .4rem .9rem; font: inherit;
           background: #2a3040; color: inherit; cursor: pointer; }
  button[aria-pressed=true] { background: #e8ebf2; color: #0b0d12; font-weight: 600; }
  button.danger { background: #e5484d; color: #fff; }
";

/// Opens the pop-out (from a click: browsers require one), or says why it cannot.
pub fn pop_out(call: CallState, send: Callback<UiCommand>, words: PopOutWords) {
    spawn_local(async move {
        let opened = match document_pip() {
            Some(pip) => open_document_window(&pip, call, send, words).await,
            None => open_video_window(call).await,
        };
        if let Err(why) = opened {
            call.notice.set(Some(Notice::PopOutFailed(why.to_string())));
        }
    });
}

/// `window.documentPictureInPicture`, where the browser has it.
fn document_pip() -> Option<Object> {
    let window = web_sys::window()?;
    Reflect::get(&window, &"documentPictureInPicture".into())
        .ok()
        .filter(|pip| pip.is_object())
        .map(JsCast::unchecked_into)
}

fn error(e: JsValue) -> String {
    crate::client::error_name(&e)
}

/// The video of whoever speaks now (outlined), else the first other person's, and their
/// name.
fn speaker(document: &Document) -> Option<(MediaStream, String)> {
    let tile = document
        .query_selector(".stage .tile.remote.speaking")
        .ok()
        .flatten()
        .or_else(|| {
            document
                .query_selector(".stage .tile.remote")
                .ok()
                .flatten()
        })?;
    let video = super::stage::video(&tile)?;
    Some((video.src_object()?, super::stage::caption(&tile)))
}

/// Shows `stream` in `video`, if it is not shown already.
fn show(video: &HtmlVideoElement, stream: &MediaStream) {
    if video.src_object().as_ref() != Some(stream) {
        video.set_src_object(Some(stream));
        let _ = video.play();
    }
}

/// A new `<tag>` in `document`. Not checked with `instanceof`: the small window is a realm
/// of its own, whose elements are not instances of this page's classes.
fn element<T: JsCast>(document: &Document, tag: &str) -> Result<T, String> {
    Ok(document
        .create_element(tag)
        .map_err(error)?
        .unchecked_into::<T>())
}

async fn open_document_window(
    pip: &Object,
    call: CallState,
    send: Callback<UiCommand>,
    words: PopOutWords,
) -> Result<(), String> {
    let main = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let options = Object::new();
    Reflect::set(&options, &"width".into(), &WIDTH.into()).map_err(error)?;
    Reflect::set(&options, &"height".into(), &HEIGHT.into()).map_err(error)?;
    let request: js_sys::Function = Reflect::get(pip, &"requestWindow".into())
        .map_err(error)?
        .dyn_into()
        .map_err(|_| "no requestWindow")?;
    let promise: js_sys::Promise = request
        .call1(pip, &options)
        .map_err(error)?
        .dyn_into()
        .map_err(|_| "requestWindow gave no promise")?;
    let small: Window = JsFuture::from(promise)
        .await
        .map_err(error)?
        .unchecked_into();
    let document = small.document().ok_or("the window has no document")?;
    let body = document.body().ok_or("the window has no body")?;
    document.set_title(&words.title);
    let style: HtmlElement = element(&document, "style")?;
    style.set_text_content(Some(STYLE));
    document
        .head()
        .ok_or("the window has no head")?
        .append_child(&style)
        .map_err(error)?;
    let video: HtmlVideoElement = element(&document, "video")?;
    // The sound plays in the call's own page: here it would be heard twice.
    video.set_muted(true);
    video.set_autoplay(true);
    video.set_attribute("playsinline", "").map_err(error)?;
    let bar: HtmlElement = element(&document, "div")?;
    bar.set_class_name("bar");
    let who: HtmlElement = element(&document, "span")?;
    who.set_class_name("who");
    let mute: HtmlElement = element(&document, "button")?;
    mute.set_text_content(Some(&words.mute));
    mute.set_class_name("mute");
    let hang_up: HtmlElement = element(&document, "button")?;
    hang_up.set_text_content(Some(&words.hang_up));
    hang_up.set_class_name("danger");
    let on_mute = Closure::<dyn FnMut()>::new(move || send.run(UiCommand::ToggleMicrophone));
    let on_hang_up = Closure::<dyn FnMut()>::new(move || send.run(UiCommand::HangUp));
    mute.set_onclick(Some(on_mute.as_ref().unchecked_ref()));
    hang_up.set_onclick(Some(on_hang_up.as_ref().unchecked_ref()));
    for child in [&who, &mute, &hang_up] {
        bar.append_child(child).map_err(error)?;
    }
    body.append_child(&video).map_err(error)?;
    body.append_child(&bar).map_err(error)?;
    // Follows the speaker and the Mute switch until the window is closed or the call ends.
    loop {
        if let Some((stream, name)) = speaker(&main) {
            show(&video, &stream);
            if who.text_content().as_deref() != Some(name.as_str()) {
                who.set_text_content(Some(&name));
            }
        }
        let muted = call.microphone_on.try_get_untracked().is_some_and(|on| !on);
        let _ = mute.set_attribute("aria-pressed", &muted.to_string());
        TimeoutFuture::new(FOLLOW_MS).await;
        if small.closed().unwrap_or(true) {
            break;
        }
        let over = call
            .status
            .try_with_untracked(CallStatus::is_final)
            .unwrap_or(true);
        if over {
            small.close().ok();
            break;
        }
    }
    drop((on_mute, on_hang_up));
    Ok(())
}

/// The fallback: a video of its own (hidden in the page) shown picture-in-picture, whose
/// picture is swapped to whoever speaks.
async fn open_video_window(call: CallState) -> Result<(), String> {
    let main = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let (stream, _) = speaker(&main).ok_or("nobody else is in the call yet")?;
    let video: HtmlVideoElement = element(&main, "video")?;
    video.set_muted(true);
    video.set_class_name("pop-out-video");
    video.set_attribute("playsinline", "").map_err(error)?;
    main.body()
        .ok_or("no body")?
        .append_child(&video)
        .map_err(error)?;
    video.set_src_object(Some(&stream));
    if let Ok(playing) = video.play() {
        JsFuture::from(playing).await.map_err(error)?;
    }
    let request: js_sys::Function = Reflect::get(&video, &"requestPictureInPicture".into())
        .map_err(error)?
        .dyn_into()
        .map_err(|_| "this browser has no picture-in-picture")?;
    let promise: js_sys::Promise = request
        .call0(&video)
        .map_err(error)?
        .dyn_into()
        .map_err(|_| "no promise")?;
    if let Err(e) = JsFuture::from(promise).await {
        video.remove();
        return Err(error(e));
    }
    loop {
        TimeoutFuture::new(FOLLOW_MS).await;
        let in_pip = Reflect::get(&main, &"pictureInPictureElement".into())
            .ok()
            .is_some_and(|el| el == JsValue::from(video.clone()));
        let over = call
            .status
            .try_with_untracked(CallStatus::is_final)
            .unwrap_or(true);
        if !in_pip || over {
            break;
        }
        if let Some((stream, _)) = speaker(&main) {
            show(&video, &stream);
        }
    }
    if let Ok(exit) = Reflect::get(&main, &"exitPictureInPicture".into()) {
        if let Ok(exit) = exit.dyn_into::<js_sys::Function>() {
            let _ = exit.call0(&main);
        }
    }
    video.remove();
    Ok(())
}
