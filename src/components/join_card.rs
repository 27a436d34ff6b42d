//! The card a call link opens on when it came from elsewhere (another site, typed,
//! pasted): the camera preview, the name from the link (editable), microphone and camera
//! switches, and Join now. Nothing is sent and no seat is taken before Join now.
//!
//! The server renders it, and it works before the app has loaded: the page's early script
//! (`early_media`) shows the camera in the preview and holds back a Join now pressed
//! meanwhile, which the app then carries out with what was typed; the seat is taken at
//! that press already, by the page's socket script, and the app adopts it. Without JavaScript the
//! form goes to the server, which sends it on to the call (`server::join_link`). Its
//! switches hide the preview through CSS alone, so they work in all three cases.

use crate::browser;
use crate::components::connection_check::ConnectionCheck;
use crate::components::name_field::NameField;
use crate::components::words::FieldProblem;
use crate::early_media::{JOIN_FORM, JOIN_PREVIEW};
use crate::i18n::*;
use crate::protocol::signaling::validate_name;
use leptos::prelude::*;

/// The ids (and form field names) of the switches.
pub const MICROPHONE: &str = "microphone";
pub const CAMERA: &str = "camera";

/// The value of the form's `from` field: a form from the card says which devices are off
/// by leaving their switches out (an unticked checkbox is not sent).
pub const FROM_CARD: &str = "card";

/// What the person chose on the card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinChoice {
    pub name: String,
    pub microphone: bool,
    pub camera: bool,
}

/// What the server writes into a field before the app has taken the page over; from then
/// on the binding holds it.
fn server_side<T>(value: T) -> Option<T> {
    cfg!(feature = "ssr").then_some(value)
}

#[component]
pub fn JoinCard(user: String, room: String, join: Callback<JoinChoice>) -> impl IntoView {
    let name = RwSignal::new(browser::typed_before_the_app("name").unwrap_or(user));
    let microphone = RwSignal::new(browser::ticked_before_the_app(MICROPHONE).unwrap_or(true));
    let camera = RwSignal::new(browser::ticked_before_the_app(CAMERA).unwrap_or(true));
    let name_error = RwSignal::new(None::<FieldProblem>);
    let submit = move || match validate_name(&name.get_untracked()) {
        Ok(name) => join.run(JoinChoice {
            name: name.to_owned(),
            microphone: microphone.get_untracked(),
            camera: camera.get_untracked(),
        }),
        Err(why) => name_error.set(Some(FieldProblem::Input(why))),
    };
    // Pressed while the app was on its way: join now that it is here (an effect runs once
    // the page is the app's).
    if browser::sent_before_the_app(JOIN_FORM) {
        Effect::new(move |_| submit());
    }
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submit();
    };
    let i18n = use_i18n();

    view! {
        <section class="panel join-card" aria-labelledby="join-title">
            // One text node, as the server writes it and a reader of the page source sees it.
            <h1 id="join-title">
                {
                    let room = room.clone();
                    move || td_string!(i18n.get_locale(), people.join_room, room = room.clone()).to_string()
                }
            </h1>
            <p class="lede">
                {move || td_string!(i18n.get_locale(), people.join_lede)}
            </p>
            <div class="join-preview">
                <video
                    id=JOIN_PREVIEW
                    autoplay
                    muted
                    playsinline
                    aria-label=move || td_string!(i18n.get_locale(), people.camera_preview)
                ></video>
                <p class="preview-off">{move || td_string!(i18n.get_locale(), people.camera_off)}</p>
            </div>
            <form id=JOIN_FORM class="join-form" method="get" action="/" on:submit=on_submit novalidate>
                <input type="hidden" name="room" value=room.clone()/>
                <input type="hidden" name="from" value=FROM_CARD/>
                <NameField name error=name_error/>
                <div class="switches">
                    <label>
                        <input
                            type="checkbox"
                            role="switch"
                            id=MICROPHONE
                            name=MICROPHONE
                            checked=server_side(true)
                            bind:checked=microphone
                        />
                        {move || td_string!(i18n.get_locale(), people.microphone)}
                    </label>
                    <label>
                        <input
                            type="checkbox"
                            role="switch"
                            id=CAMERA
                            name=CAMERA
                            checked=server_side(true)
                            bind:checked=camera
                        />
                        {move || td_string!(i18n.get_locale(), people.camera)}
                    </label>
                </div>
                <button type="submit" class="primary">{move || td_string!(i18n.get_locale(), people.join_now)}</button>
                <p class="joining-early" aria-live="polite">{move || td_string!(i18n.get_locale(), people.joining_early)}</p>
            </form>
            <ConnectionCheck/>
        </section>
    }
}
