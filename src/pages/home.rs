//! `/`: pick a name and a room, or ask for a fresh room key.

use crate::browser;
use crate::components::connection_check::ConnectionCheck;
use crate::components::language_picker::LanguagePicker;
use crate::components::name_field::NameField;
use crate::components::words::{self, FieldProblem};
use crate::i18n::*;
use crate::pages::call::CallRoute;
use crate::protocol::signaling::{validate_name, validate_room, InputError};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::location::Url;

/// What the server writes into a field, for a page the app has not taken over (yet):
/// from then on the binding holds the value, and the attribute is left alone.
fn typed_value(field: RwSignal<String>) -> Option<String> {
    cfg!(feature = "ssr").then(|| field.get_untracked())
}

/// Compiles the call screen, its files having arrived, so that Join has only the call to
/// start. It may run after the person has left the page (say, for the call): loading what
/// is loaded already does nothing.
fn compile_call_screen() {
    leptos::task::spawn_local(<CallRoute as leptos_router::LazyRoute>::preload());
}

#[component]
pub fn HomeScreen() -> impl IntoView {
    // An invite link (`/?room=…`) arrives with the room filled in. A form sent before
    // the app had loaded (`/?name=…&room=…`, see `server::join_link`) comes back here
    // only if something in it was wrong: with what was typed, and what is wrong with it.
    // What is wrong is told as the server told it, about what was sent; the fields hold
    // what the person has typed since, should they have typed before the app loaded.
    let query = use_query_map();
    let sent_as = |field: &str| query.with_untracked(|q| q.get(field));
    let sent = sent_as("name").is_some();
    let problem =
        |error: Option<InputError>| RwSignal::new(error.filter(|_| sent).map(FieldProblem::Input));
    let name_error = problem(validate_name(&sent_as("name").unwrap_or_default()).err());
    let room_error = problem(validate_room(&sent_as("room").unwrap_or_default()).err());
    let field = |id: &str| {
        RwSignal::new(
            browser::typed_before_the_app(id)
                .or_else(|| sent_as(id))
                .unwrap_or_default(),
        )
    };
    let name = field("name");
    let room = field("room");
    let navigate = use_navigate();
    let i18n = use_i18n();

    let new_room = move |_| {
        room_error.set(None);
        let failed = Callback::new(move |()| room_error.set(Some(FieldProblem::NoRandom)));
        browser::fill_fresh_room_key(room, failed);
    };
    // The call screen's code arrives while the person types (an effect: in the browser
    // only): at once if they typed before the app was there, as on a first keystroke;
    // else once the page has been looked at for a moment and is idle.
    let typed_early = ["name", "room"]
        .into_iter()
        .any(browser::edited_before_the_app);
    Effect::new(move |_| match typed_early {
        true => browser::prefetch_call(compile_call_screen),
        false => browser::prefetch_call_when_idle(compile_call_screen),
    });

    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let checked_name = validate_name(&name.get_untracked()).map(str::to_owned);
        let checked_room = validate_room(&room.get_untracked()).map(str::to_owned);
        name_error.set(checked_name.as_ref().err().map(|e| FieldProblem::Input(*e)));
        room_error.set(checked_room.as_ref().err().map(|e| FieldProblem::Input(*e)));
        if let (Ok(user), Ok(room)) = (checked_name, checked_room) {
            navigate(
                &format!("/call/{}/{}", Url::escape(&user), Url::escape(&room)),
                Default::default(),
            );
        }
    };

    view! {
        <section class="panel home">
            <h1>"Tandem"</h1>
            <p class="lede">{move || td_string!(i18n.get_locale(), home.lede)}</p>
            // Until the app has loaded, Join sends the form as it is, and the server takes
            // it from there.
            <form
                class="join-form"
                method="get"
                action="/"
                on:submit=join
                on:input=|_| browser::prefetch_call(compile_call_screen)
                novalidate
            >
                <NameField name error=name_error/>
                <div class="field">
                    <label for="room">{move || td_string!(i18n.get_locale(), home.room)}</label>
                    <div class="room-row">
                        <input
                            id="room"
                            name="room"
                            autocomplete="off"
                            spellcheck="false"
                            value=typed_value(room)
                            bind:value=room
                            aria-invalid=move || room_error.with(Option::is_some).to_string()
                            aria-describedby="room-error"
                        />
                        <button type="button" class="secondary" on:click=new_room>
                            {move || td_string!(i18n.get_locale(), home.new_room)}
                        </button>
                    </div>
                    <p id="room-error" class="field-error" role="alert">
                        {move || {
                            room_error.get().map(|problem| words::field_problem(i18n.get_locale(), problem))
                        }}
                    </p>
                </div>
                <button type="submit" class="primary">{move || td_string!(i18n.get_locale(), home.join)}</button>
            </form>
            <p class="hint">{move || td_string!(i18n.get_locale(), home.hint)}</p>
            <ConnectionCheck/>
            <LanguagePicker/>
        </section>
    }
}
