//! `/call/:user/:room`: the call itself.

use crate::browser;
use crate::call_state::{CallState, UiCommand};
use crate::components::call_notes::CallNotes;
use crate::components::controls::{reaction_label, shortcut, CallControls};
use crate::components::devices::DevicePicker;
use crate::components::files::FilePanel;
use crate::components::invite::InviteButton;
use crate::components::join_card::{self, JoinCard, JoinChoice};
use crate::components::people::PeopleList;
use crate::components::recording::RecordingNote;
use crate::components::words::{self, FieldProblem};
use crate::components::{
    chat::ChatPanel,
    stats_panel::StatsPanel,
    status::StatusLine,
    video_tile::{hand_place, reactions_of, RemoteTile, VideoTile},
};
use crate::i18n::*;
use crate::mesh::switches::Switches;
use crate::mesh::CallStatus;
use crate::protocol::signaling::{validate_name, validate_room, PeerId};
use futures::channel::mpsc;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::location::Url;
use leptos_router::{lazy_route, LazyRoute};

/// The call page as a lazily loaded route: with `cargo leptos --split` its code is a chunk
/// of its own, fetched only where a call is.
pub struct CallRoute;

#[lazy_route]
impl LazyRoute for CallRoute {
    fn data() -> Self {
        CallRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <CallScreen/> }.into_any()
    }
}

#[component]
pub fn CallScreen() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let query = use_query_map();
    // The router decodes path parameters differently on the server and in the browser;
    // decoding here once more makes both agree.
    let param = move |key: &str| Url::unescape(&params.read().get(key).unwrap_or_default());
    // Bumped by "Rejoin": a new attempt mounts a fresh call.
    let attempt = RwSignal::new(0u32);
    // Who joins, and with what on: from the card where the link came from elsewhere; else
    // as the link and the home form said.
    let as_linked = move || {
        let on = |device: &str| query.with_untracked(|q| q.get(device)).as_deref() != Some("off");
        JoinChoice {
            name: untrack(|| param("user")),
            microphone: on(join_card::MICROPHONE),
            camera: on(join_card::CAMERA),
        }
    };
    let joined = RwSignal::new(came_through_tandem().then(as_linked));
    // A reload of this call in this tab goes back into it, as one through Tandem does.
    // Firefox says such a reload came from nowhere (`Sec-Fetch-Site: none`), so the server
    // put up the card; the app, once the page is its own (an effect), joins at once.
    if joined.get_untracked().is_none() {
        Effect::new(move |_| {
            let choice = as_linked();
            if let Ok(room) = validate_room(&untrack(|| param("room"))) {
                if browser::reloaded_in_the_call(&choice.name, room) {
                    joined.set(Some(choice));
                }
            }
        });
    }
    let join = Callback::new(move |choice: JoinChoice| {
        if choice.name != param("user") {
            browser::show_path(&format!(
                "/call/{}/{}",
                Url::escape(&choice.name),
                Url::escape(&param("room"))
            ));
        }
        joined.set(Some(choice));
    });

    move || {
        let (user, room) = (param("user"), param("room"));
        match (validate_name(&user), validate_room(&room)) {
            (Ok(user), Ok(room)) => match joined.get() {
                Some(choice) => {
                    attempt.track();
                    let rejoin = Callback::new(move |()| attempt.update(|n| *n += 1));
                    view! { <Call choice room=room.to_owned() rejoin/> }.into_any()
                }
                None => {
                    view! { <JoinCard user=user.to_owned() room=room.to_owned() join/> }.into_any()
                }
            },
            (Err(e), _) | (_, Err(e)) => view! {
                <section class="panel">
                    <h1>{move || td_string!(i18n.get_locale(), call.link_not_valid)}</h1>
                    <p role="alert">
                        {move || words::field_problem(i18n.get_locale(), FieldProblem::Input(e))}
                    </p>
                    <A href="/">{move || td_string!(i18n.get_locale(), common.home)}</A>
                </section>
            }
            .into_any(),
        }
    }
}

/// Whether the person came to this page through Tandem itself: from its home form, its
/// own navigation, or a reload of such a page. A link from anywhere else (another site,
/// typed, pasted: the request's `Sec-Fetch-Site` is not `same-origin`, which no other
/// site can forge) opens on the join card. In the browser, the server's choice is read
/// from the page the app takes over; a page the app navigated to came through Tandem.
fn came_through_tandem() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .is_some_and(|request| crate::early_media::came_through_tandem(&request.headers))
    }
    #[cfg(not(feature = "ssr"))]
    {
        !browser::shown_before_the_app(crate::early_media::JOIN_FORM)
    }
}

#[component]
fn Call(choice: JoinChoice, room: String, rejoin: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let user = choice.name;
    let call = CallState::new();
    let switches = Switches {
        microphone: choice.microphone,
        camera: choice.camera,
    };
    // Shown as chosen until the call's own state takes over.
    call.microphone_on.set(switches.microphone);
    call.camera_on.set(switches.camera);
    let (commands, command_rx) = mpsc::unbounded::<UiCommand>();
    browser::start_session(user.clone(), room.clone(), switches, call, command_rx);
    let send = {
        let commands = commands.clone();
        move |command| {
            // Fails only once the session has ended, when there is nothing left to tell.
            let _ = commands.unbounded_send(command);
        }
    };
    on_cleanup({
        let send = send.clone();
        move || send(UiCommand::Leave)
    });
    let command = Callback::new(send);
    let show_stats = RwSignal::new(false);
    let on_chat = Callback::new(move |text| command.run(UiCommand::SendChat(text)));
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        use leptos::wasm_bindgen::JsCast;
        let typing = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        let modified = ev.ctrl_key() || ev.meta_key() || ev.alt_key();
        if let Some(toggle) = shortcut(&ev.key(), typing, modified) {
            command.run(toggle);
        }
    });
    on_cleanup(move || keys.remove());
    let local_badge = move || {
        (!call.microphone_on.get())
            .then(|| td_string!(i18n.get_locale(), call.you_are_muted).to_owned())
    };
    let started = call_started(call);
    let status = call.status;
    // A tile picked to be shown large; forgotten when that person leaves.
    let focused = RwSignal::new(None::<PeerId>);
    let count = move || call.people.with(Vec::len);
    let grid = Memo::new(move |_| count() > 1);
    let screen_shared = move || call.people.with(|p| p.iter().any(|p| p.media.screen));
    let focused_here = move || {
        focused
            .get()
            .filter(|id| call.people.with(|p| p.iter().any(|p| p.id == *id)))
    };

    view! {
        <section
            class="call"
            aria-label={
                let room = room.clone();
                move || td_string!(i18n.get_locale(), call.call_in_room, room = room.clone()).to_string()
            }
            on:dragover=|ev| ev.prevent_default()
            on:drop=move |ev| browser::send_dropped_files(&ev, command)
        >
            <header class="call-bar">
                <h1 class="room-name">
                    {
                        let room = room.clone();
                        move || td_string!(i18n.get_locale(), call.room_title, room = room.clone()).to_string()
                    }
                </h1>
                <StatusLine status/>
                <RecordingNote call/>
                <InviteButton room=room.clone()/>
            </header>
            <CallNotes call send=command/>
            <Show
                when=move || !status.with(CallStatus::is_final)
                fallback=move || view! { <CallOver status rejoin/> }
            >
                // A shared screen is shown whole, never cropped to fill.
                <div class="stage" class:screen-shared=screen_shared>
                    <div
                        class="remotes"
                        class:grid=grid
                        class:focused=move || grid.get() && focused_here().is_some()
                        data-count=move || count().to_string()
                    >
                        <Show when=move || count() == 0>
                            <WaitingTile status/>
                        </Show>
                        <For
                            each=move || call.people.with(|p| p.iter().map(|p| p.id).collect::<Vec<_>>())
                            key=|id| *id
                            let(id)
                        >
                            <RemoteTile id call send=command focused/>
                        </For>
                    </div>
                    <VideoTile
                        class="local"
                        label=Signal::derive({
                            let user = user.clone();
                            move || {
                                let name = call.seated_as.get().unwrap_or(user.clone());
                                td_string!(i18n.get_locale(), call.you_named, name).to_string()
                            }
                        })
                        video_label=Signal::derive({
                            let user = user.clone();
                            move || {
                                let name = call.seated_as.get().unwrap_or(user.clone());
                                td_string!(i18n.get_locale(), call.video_you_named, name).to_string()
                            }
                        })
                        node_ref=call.local_video
                        muted=true
                        camera_off=Signal::derive(move || {
                            !call.camera_on.get() && !call.sharing_screen.get()
                        })
                        badge=Signal::derive(local_badge)
                        host=Signal::derive(move || call.is_host.get())
                        hand=hand_place(call, None)
                        reactions=reactions_of(call, None)
                    />
                    <ReactionsSaid call/>
                    <Show when=move || call.needs_play.get()>
                        <button
                            class="primary play-audio"
                            on:click=move |_| command.run(UiCommand::PlayAudio)
                        >
                            {move || {
                                if count() > 1 {
                                    td_string!(i18n.get_locale(), call.play_everyone)
                                } else {
                                    td_string!(i18n.get_locale(), call.play_other)
                                }
                            }}
                        </button>
                    </Show>
                </div>
                <div class="side">
                    <ChatPanel lines=call.chat ready=call.chat_open on_send=on_chat/>
                    <PeopleList
                        call
                        send=command
                        you=Signal::derive({
                            let user = user.clone();
                            move || call.seated_as.get().unwrap_or(user.clone())
                        })
                    />
                    <Show when=move || started.get()>
                        {lazy_panel(Panel::Files, move || file_panel(call, command))}
                    </Show>
                </div>
                <Show when=move || show_stats.get()>
                    {lazy_panel(Panel::Stats, move || stats_panel(call))}
                </Show>
                <CallControls call send=command show_stats/>
                <Show when=move || started.get()>
                    {lazy_panel(Panel::Devices, move || device_picker(call, command))}
                </Show>
            </Show>
        </section>
    }
}

// The panels below are wasm chunks of their own (`wasm_split`, as Leptos's `#[lazy]` but
// fallible): the stats panel arrives when first opened; the file panel and the device
// picker once the call has started, so that their bytes never stand between a call link
// and the call.

/// A panel's code could not be fetched (say, the link dropped): the call goes on, and the
/// panel offers to try again. Leptos's `#[lazy]` would panic here, stopping the app.
struct PanelUnavailable;

impl From<leptos::wasm_split::SplitLoaderError> for PanelUnavailable {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        PanelUnavailable
    }
}

#[leptos::wasm_split::wasm_split(stats_panel, fallible, wasm_split_path = ::leptos::wasm_split)]
fn stats_panel(call: CallState) -> Result<AnyView, PanelUnavailable> {
    Ok(view! { <StatsPanel call/> }.into_any())
}

#[leptos::wasm_split::wasm_split(file_panel, fallible, wasm_split_path = ::leptos::wasm_split)]
fn file_panel(call: CallState, send: Callback<UiCommand>) -> Result<AnyView, PanelUnavailable> {
    Ok(view! { <FilePanel call send/> }.into_any())
}

#[leptos::wasm_split::wasm_split(device_picker, fallible, wasm_split_path = ::leptos::wasm_split)]
fn device_picker(call: CallState, send: Callback<UiCommand>) -> Result<AnyView, PanelUnavailable> {
    Ok(view! { <DevicePicker call send/> }.into_any())
}

/// A panel whose code is a chunk of its own.
#[derive(Clone, Copy)]
enum Panel {
    Files,
    Stats,
    Devices,
}

impl Panel {
    fn not_loaded(self, locale: Locale) -> &'static str {
        match self {
            Panel::Files => td_string!(locale, call.files_panel_failed),
            Panel::Stats => td_string!(locale, call.stats_panel_failed),
            Panel::Devices => td_string!(locale, call.devices_panel_failed),
        }
    }
}

/// Shows a lazily loaded panel once its chunk has arrived; if it cannot be fetched, says
/// so with a button that tries again (a failed fetch is not remembered).
fn lazy_panel<F>(what: Panel, load: impl Fn() -> F + Clone + Send + Sync + 'static) -> impl IntoView
where
    F: std::future::Future<Output = Result<AnyView, PanelUnavailable>> + Send + 'static,
{
    let attempt = RwSignal::new(0u32);
    let i18n = use_i18n();
    move || {
        attempt.track();
        let load = load.clone();
        Suspend::new(async move {
            match load().await {
                Ok(panel) => panel,
                Err(PanelUnavailable) => view! {
                    <p class="media-note panel-missing" role="alert">
                        {move || what.not_loaded(i18n.get_locale())}
                        " "
                        <button on:click=move |_| attempt.update(|n| *n += 1)>
                            {move || td_string!(i18n.get_locale(), call.try_again)}
                        </button>
                    </p>
                }
                .into_any(),
            }
        })
    }
}

/// True, in the browser, once the call has started: a remote video plays, or this person
/// waits alone, or the browser waits for a click to play; at the latest a few seconds
/// after the call screen opened, whatever the call is doing (joining, busy, cameras off).
/// Until then a panel's chunk would only compete with the call for a slow link. The
/// server renders nothing for what waits on it, so hydration never waits for a chunk.
fn call_started(call: CallState) -> RwSignal<bool> {
    const AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(4);
    let started = RwSignal::new(false);
    Effect::new(move || {
        if started.get_untracked() {
            return;
        }
        let alone = call
            .status
            .with(|s| matches!(s, CallStatus::Waiting { .. }));
        if alone || call.remote_playing.get() || call.needs_play.get() {
            started.set(true);
        }
    });
    // In an effect: it runs in the browser only, once, and its cleanup goes with the call.
    Effect::new(move || {
        if let Ok(timer) = set_timeout_with_handle(move || started.set(true), AT_THE_LATEST) {
            on_cleanup(move || timer.clear());
        }
    });
    started
}

/// Says each reaction to screen readers, with the sender's name: the floating emoji
/// themselves are hidden from them.
#[component]
fn ReactionsSaid(call: CallState) -> AnyView {
    let i18n = use_i18n();
    let latest = move || {
        let locale = i18n.get_locale();
        call.reactions.with(|shown| {
            shown.last().map(|r| {
                let who = if r.from.is_some() {
                    r.name.clone()
                } else {
                    td_string!(locale, call.you).to_owned()
                };
                let reaction = reaction_label(locale, r.reaction);
                td_string!(locale, call.reaction_said, who, reaction).to_string()
            })
        })
    };
    view! { <p class="visually-hidden" aria-live="polite">{latest}</p> }.into_any()
}

/// The stage while nobody else is there: waiting for someone, or at a locked room's door.
#[component]
fn WaitingTile(status: RwSignal<CallStatus>) -> AnyView {
    let i18n = use_i18n();
    let at_the_door = move || status.with(|s| matches!(s, CallStatus::Knocking(_)));
    view! {
        <figure class="tile remote waiting">
            <figcaption>
                {move || {
                    if at_the_door() {
                        td_string!(i18n.get_locale(), call.waiting_at_door)
                    } else {
                        td_string!(i18n.get_locale(), call.waiting_for_someone)
                    }
                }}
            </figcaption>
        </figure>
    }
    .into_any()
}

/// Shown when this side's call is over: after hanging up, when the room was full, or when
/// the host removed this person.
#[component]
fn CallOver(status: RwSignal<CallStatus>, rejoin: Callback<()>) -> impl IntoView {
    let i18n = use_i18n();
    let full = move || status.get() == CallStatus::RoomFull;
    let removed = move || matches!(status.get(), CallStatus::Removed(_));
    let not_let_in = move || matches!(status.get(), CallStatus::NotLetIn { .. });
    view! {
        <div class="panel call-over">
            <h2>
                {move || {
                    if full() {
                        td_string!(i18n.get_locale(), call.over_full_title)
                    } else if removed() {
                        td_string!(i18n.get_locale(), call.over_removed_title)
                    } else if not_let_in() {
                        td_string!(i18n.get_locale(), call.over_not_let_in_title)
                    } else {
                        td_string!(i18n.get_locale(), call.over_ended_title)
                    }
                }}
            </h2>
            <p>
                {move || {
                    if full() {
                        td_string!(i18n.get_locale(), call.over_full_text).to_owned()
                    } else if removed() || not_let_in() {
                        status.with(|s| words::status(i18n.get_locale(), s))
                    } else {
                        td_string!(i18n.get_locale(), call.over_left).to_owned()
                    }
                }}
            </p>
            <div class="actions">
                <Show when=move || !full() && !removed() && !not_let_in()>
                    <button class="primary" on:click=move |_| rejoin.run(())>
                        {move || td_string!(i18n.get_locale(), call.rejoin)}
                    </button>
                </Show>
                <A href="/">{move || td_string!(i18n.get_locale(), common.home)}</A>
            </div>
        </div>
    }
}
