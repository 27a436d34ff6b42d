//! What the components ask of the browser, each written once. The server renders the same
//! components but never runs their effects or event handlers, so its build of every
//! function here is empty: [`in_the_browser!`] keeps the body for the `hydrate` build
//! only, and nothing browser-specific (web-sys, `crate::client`) reaches the server.

use crate::call_state::{CallState, UiCommand};
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
        call: CallState,
        commands: mpsc::UnboundedReceiver<UiCommand>,
    ) {
        let mut pending = Some((user, room, commands));
        Effect::new(move |_| {
            if let Some((user, room, commands)) = pending.take() {
                crate::client::session::start(user, room, call, commands);
            }
        });
    }

    /// Fills `room` with a fresh key from the browser's CSPRNG, or says why it cannot.
    pub fn fill_fresh_room_key(room: RwSignal<String>, error: RwSignal<Option<String>>) {
        error.set(None);
        match crate::client::random_room_key() {
            Ok(key) => room.set(key),
            Err(why) => error.set(Some(why)),
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

/// What the person typed into the field `id` while the server's page waited for the app:
/// read as the app takes that page over, so the app's binding starts from it instead of
/// wiping it. `None` on the server, and whenever the app is not taking a page over.
pub fn typed_before_the_app(id: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let hydrating = Owner::current_shared_context().is_some_and(|c| c.during_hydration());
        hydrating
            .then(|| web_sys::window()?.document()?.get_element_by_id(id))
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            .map(|input| input.value())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = id;
        None
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
