//! A call page before the app has loaded. Its HTML carries a small inline script that
//! starts the camera and microphone request at once, while the wasm is still on its way;
//! the app takes the pending promise over instead of asking a second time. Starting a
//! camera takes a noticeable while, so the two run side by side rather than one after
//! the other. Where the page is the card a link opens on (`components::join_card`), the
//! script shows the camera in its preview and holds back a press of Join now, marking the
//! form, for the app to join with once it has loaded. The script (server side) and its
//! readers (browser side) are one contract, kept here so that neither can drift.

/// The property of `window` where the script leaves its pending request.
const WINDOW_KEY: &str = "__tandemEarlyMedia";

/// The id of the join card's form.
pub const JOIN_FORM: &str = "join-card";

/// The id of the join card's camera preview.
pub const JOIN_PREVIEW: &str = "join-preview";

/// The attribute the script puts on the join card's form when Join now was pressed before
/// the app had loaded.
pub const SENT_EARLY: &str = "data-sent-early";

/// The inline script a call page carries: the same request `client::media::acquire`
/// would make, with a rejection handler so a refusal is reported once, by the app; the
/// stream shown in the join card's preview; Join now held back until the app is there
/// (once it is, its own handler has stopped the form first).
#[cfg(feature = "ssr")]
pub fn script() -> String {
    format!(
        "if(navigator.mediaDevices&&navigator.mediaDevices.getUserMedia){{\
         var m=navigator.mediaDevices.getUserMedia({{audio:true,video:true}});\
         window.{WINDOW_KEY}=m;m.then(function(s){{function show(){{\
         var v=document.getElementById('{JOIN_PREVIEW}');if(v&&!v.srcObject)v.srcObject=s}}\
         if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',show);\
         else show()}},function(){{}})}}\
         document.addEventListener('submit',function(e){{var f=e.target;\
         if(f.id!=='{JOIN_FORM}'||e.defaultPrevented)return;\
         e.preventDefault();f.setAttribute('{SENT_EARLY}','')}})"
    )
}

/// Whether `path` is a call link `CallScreen` will start a call for (the same checks): an
/// invalid link must not turn the camera on.
#[cfg(feature = "ssr")]
pub fn starts_a_call(path: &str) -> bool {
    use crate::protocol::signaling::{validate_name, validate_room};
    use leptos_router::location::Url;
    let Some(rest) = path.strip_prefix("/call/") else {
        return false;
    };
    let mut segments = rest.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(user), Some(room), None) => {
            validate_name(&Url::unescape(user)).is_ok()
                && validate_room(&Url::unescape(room)).is_ok()
        }
        _ => false,
    }
}

/// The request the script made, once: a later call on the same page asks afresh.
#[cfg(feature = "hydrate")]
pub fn take() -> Option<js_sys::Promise> {
    use wasm_bindgen::{JsCast, JsValue};
    let window: JsValue = web_sys::window()?.into();
    let key = JsValue::from_str(WINDOW_KEY);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    js_sys::Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &key).ok()?;
    early.dyn_into().ok()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_call_link_asks_for_the_camera_early() {
        assert!(starts_a_call("/call/alice/room1"));
        assert!(starts_a_call("/call/Zo%C3%AB%20Martin/k3j4h5g6f7d8"));
        assert!(!starts_a_call("/"));
        assert!(!starts_a_call("/call/alice"));
        assert!(!starts_a_call("/call/alice/not%20valid"));
        assert!(!starts_a_call("/call/%20/room1"));
        assert!(!starts_a_call("/call/alice/room1/extra"));
        assert!(!starts_a_call("/calls/alice/room1"));
    }

    #[test]
    fn the_script_leaves_its_request_where_the_reader_looks() {
        assert!(script().contains(&format!("window.{WINDOW_KEY}=")));
    }

    #[test]
    fn the_script_marks_the_join_card_the_app_looks_for() {
        let script = script();
        assert!(script.contains(&format!("f.id!=='{JOIN_FORM}'")));
        assert!(script.contains(&format!("f.setAttribute('{SENT_EARLY}','')")));
        assert!(script.contains(&format!("getElementById('{JOIN_PREVIEW}')")));
    }
}
