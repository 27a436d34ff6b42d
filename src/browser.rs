//! What the components ask of the browser, each written once. The server renders the same
//! components but never runs their effects or event handlers, so its build of every
//! function here is empty: [`in_the_browser!`] keeps the body for the `hydrate` build
//! only, and nothing browser-specific (web-sys, `crate::client`) reaches the server.

use crate::call_state::{CallState, PopOutWords, UiCommand};
use crate::mesh::switches::Switches;
use crate::protocol::signaling::PeerId;
use futures::channel::mpsc;
use leptos::html::{Input, Video};
use leptos::prelude::*;

/// Declares functions whose bodies run in the browser; the server's build of each takes
/// the same arguments and does nothing.
macro_rules! in_the_browser {
    ($($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block)*) => {
        $(
            $(#[$doc])*
            #[cfg(feature = "hydrate")]
            pub fn $name($($arg: $ty),*) $body

            $(#[$doc])*
            #[cfg(not(feature = "hydrate"))]
            pub fn $name($(_: $ty),*) {}
        )*
    };
}

in_the_browser! {
    /// Starts the call's session once the page is live (after hydration).
    pub fn start_session(
        user: String,
        room: String,
        switches: Switches,
        call: CallState,
        commands: mpsc::UnboundedReceiver<UiCommand>,
    ) {
        let mut pending = Some((user, room, commands));
        Effect::new(move |_| {
            if let Some((user, room, commands)) = pending.take() {
                crate::client::session::start(user, room, switches, call, commands);
            }
        });
    }

    /// Pops the call out into a small window over the others (from a click).
    pub fn pop_out(call: CallState, send: Callback<UiCommand>, words: PopOutWords) {
        crate::client::pop_out::pop_out(call, send, words);
    }

    /// Asks, once, for the call screen's files the server named in the home page
    /// (`call_chunks`), at low priority: Join then finds them in the cache. Once every one
    /// has arrived, runs `arrived` (the home page compiles the call screen then: loading
    /// a split chunk panics if a fetch fails, which one from the cache cannot). A plain
    /// function, not a reactive callback: the page that asked may be gone by then.
    pub fn prefetch_call(arrived: fn()) {
        thread_local!(static ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if ASKED.with(|asked| asked.replace(true)) {
            return;
        }
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let selector = format!("meta[name={}]", crate::call_chunks::META);
        let files = document
            .query_selector(&selector)
            .ok()
            .flatten()
            .and_then(|meta| meta.get_attribute("content"))
            .unwrap_or_default();
        let Some(head) = document.head() else {
            return;
        };
        use wasm_bindgen::JsCast;
        let files: Vec<&str> = files.split_whitespace().collect();
        // Files still on their way; none at all once one has failed.
        let waiting = std::rc::Rc::new(std::cell::Cell::new(Some(files.len())));
        for file in files {
            let Ok(link) = document.create_element("link") else {
                return;
            };
            for (event, failed) in [("load", false), ("error", true)] {
                let waiting = waiting.clone();
                let heard = wasm_bindgen::closure::Closure::once_into_js(move || {
                    let left = waiting.get().map(|n| n.saturating_sub(1)).filter(|_| !failed);
                    waiting.set(left);
                    if left == Some(0) {
                        arrived();
                    }
                });
                let once = web_sys::AddEventListenerOptions::new();
                once.set_once(true);
                let _ = link.add_event_listener_with_callback_and_add_event_listener_options(
                    event,
                    heard.unchecked_ref(),
                    &once,
                );
            }
            // As the loader will fetch it (cors, same origin), so the cached copy is used.
            for (name, value) in [
                ("rel", "prefetch"),
                ("href", file),
                ("as", "fetch"),
                ("crossorigin", "anonymous"),
                ("fetchpriority", "low"),
            ] {
                let _ = link.set_attribute(name, value);
            }
            let _ = head.append_child(&link);
        }
    }

    /// Prefetches the call screen once the home page has been open a moment and the
    /// browser is idle: a page only glanced at fetches nothing more.
    pub fn prefetch_call_when_idle(arrived: fn()) {
        const GLANCE: std::time::Duration = std::time::Duration::from_secs(1);
        set_timeout(
            move || {
                if request_idle_callback_with_handle(move || prefetch_call(arrived)).is_err() {
                    prefetch_call(arrived);
                }
            },
            GLANCE,
        );
    }

    /// Puts `path` in the address bar in place of this page's, without going anywhere: a
    /// reload then opens what is on screen (say, the call under the name the person chose
    /// on the join card).
    pub fn show_path(path: &str) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
        }
    }

    /// Fills `room` with a fresh key from the browser's CSPRNG; calls `failed` if the
    /// browser gives no secure random numbers.
    pub fn fill_fresh_room_key(room: RwSignal<String>, failed: Callback<()>) {
        match crate::client::random_room_key() {
            Ok(key) => room.set(key),
            Err(why) => {
                leptos::logging::warn!("no room key: {why}");
                failed.run(());
            }
        }
    }

    /// Puts the invite link to `room` on the clipboard; where the browser refuses, shows it
    /// in `field`, selected, ready for Ctrl+C.
    pub fn copy_invite_link(
        room: &str,
        copied: RwSignal<bool>,
        shown: RwSignal<Option<String>>,
        field: NodeRef<Input>,
    ) {
        let link = crate::client::page_origin().unwrap_or_default() + &invite_path(room);
        copied.set(false);
        shown.set(None);
        leptos::task::spawn_local(async move {
            match crate::client::copy_to_clipboard(&link).await {
                Ok(()) => copied.set(true),
                Err(_) => {
                    shown.set(Some(link));
                    // Select the text once the field is on the page.
                    request_animation_frame(move || {
                        if let Some(input) = field.get_untracked() {
                            let _ = input.focus();
                            input.select();
                        }
                    });
                }
            }
        });
    }

    /// Sends the files picked in a file input, to whoever the panel has picked.
    pub fn send_picked_files(ev: &leptos::ev::Event, send: Callback<UiCommand>) {
        use leptos::wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        send_files(input.files(), send);
        // Picking the same file again should send it again.
        input.set_value("");
    }

    /// Sends the files dropped on the call.
    pub fn send_dropped_files(ev: &leptos::ev::DragEvent, send: Callback<UiCommand>) {
        ev.prevent_default();
        send_files(ev.data_transfer().and_then(|d| d.files()), send);
    }

    /// Hands a person's video element to the session once it is on the page, so their
    /// stream can be shown in it.
    pub fn show_video_when_loaded(node_ref: NodeRef<Video>, id: PeerId, send: Callback<UiCommand>) {
        node_ref.on_load(move |video| {
            send.run(UiCommand::ShowVideo(id, send_wrapper::SendWrapper::new(video)))
        });
    }
}

// What the server's page held when the app took it over. Before the wasm has arrived, a
// person can type into its forms and press their buttons; the app's bindings start from
// what is there instead of wiping it. Each is `None` (or false) on the server, and
// whenever the app is not taking a page over (a page the app itself navigated to).

/// What is in the text field `id`.
pub fn typed_before_the_app(id: &str) -> Option<String> {
    before_the_app::input(id).map(|input| before_the_app::value(&input))
}

/// Whether the person changed the field `id` before the app was there (typed into it,
/// rather than it holding what the server wrote).
pub fn edited_before_the_app(id: &str) -> bool {
    before_the_app::input(id).is_some_and(|input| before_the_app::edited(&input))
}

/// Whether the checkbox `id` is ticked.
pub fn ticked_before_the_app(id: &str) -> Option<bool> {
    before_the_app::input(id).map(|input| before_the_app::checked(&input))
}

/// Whether the server's page has an element `id` (what it chose to show).
pub fn shown_before_the_app(id: &str) -> bool {
    before_the_app::element(id).is_some()
}

/// Whether the form `id` was sent before the app had loaded (the page's early script
/// held it back and marked it, see `early_media::script`).
pub fn sent_before_the_app(id: &str) -> bool {
    before_the_app::element(id).is_some_and(|form| before_the_app::marked_sent(&form))
}

/// Whether this page is a reload of one that was in the call in `room` as `user`: this
/// tab keeps that seat's resume token (`client::session::seat_kept`). A duplicated tab keeps the token too, but is no reload: it asks, as any link
/// from elsewhere does. Always false on the server.
pub fn reloaded_in_the_call(user: &str, room: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let reload = window.performance().is_some_and(|performance| {
            let navigation = performance.get_entries_by_type("navigation").get(0);
            js_sys::Reflect::get(&navigation, &"type".into())
                .ok()
                .and_then(|kind| kind.as_string())
                .is_some_and(|kind| kind == "reload")
        });
        reload && crate::client::session::seat_kept(user, room)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (user, room);
        false
    }
}

#[cfg(feature = "hydrate")]
mod before_the_app {
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{Element, HtmlInputElement};

    pub fn element(id: &str) -> Option<Element> {
        let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
        hydrating
            .then(|| web_sys::window()?.document()?.get_element_by_id(id))
            .flatten()
    }

    pub fn input(id: &str) -> Option<HtmlInputElement> {
        element(id)?.dyn_into().ok()
    }

    pub fn value(input: &HtmlInputElement) -> String {
        input.value()
    }

    pub fn checked(input: &HtmlInputElement) -> bool {
        input.checked()
    }

    pub fn edited(input: &HtmlInputElement) -> bool {
        input.value() != input.default_value()
    }

    pub fn marked_sent(form: &Element) -> bool {
        form.has_attribute(crate::early_media::SENT_EARLY)
    }
}

#[cfg(not(feature = "hydrate"))]
mod before_the_app {
    pub enum Nothing {}

    pub fn element(_: &str) -> Option<Nothing> {
        None
    }

    pub fn input(_: &str) -> Option<Nothing> {
        None
    }

    pub fn value(nothing: &Nothing) -> String {
        match *nothing {}
    }

    pub fn checked(nothing: &Nothing) -> bool {
        match *nothing {}
    }

    pub fn edited(nothing: &Nothing) -> bool {
        match *nothing {}
    }

    pub fn marked_sent(nothing: &Nothing) -> bool {
        match *nothing {}
    }
}

/// The home page with the room filled in (`HomeScreen` reads it): the guest only types
/// their name.
pub fn invite_path(room: &str) -> String {
    format!("/?room={room}")
}

#[cfg(feature = "hydrate")]
fn send_files(files: Option<web_sys::FileList>, send: Callback<UiCommand>) {
    let Some(files) = files else { return };
    for file in (0..files.length()).filter_map(|i| files.get(i)) {
        send.run(UiCommand::SendFile(send_wrapper::SendWrapper::new(file)));
    }
}
