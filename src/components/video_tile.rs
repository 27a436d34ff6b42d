use crate::browser;
use crate::call_state::{CallState, UiCommand};
use crate::i18n::*;
use crate::mesh::Link;
use crate::protocol::peer::Reaction;
use crate::protocol::signaling::PeerId;
use leptos::html::Video;
use leptos::prelude::*;

/// One person's video with their name under it. When their camera is off the tile shows
/// their initial instead of a black picture, and a badge says when they are muted.
#[component]
pub fn VideoTile(
    class: &'static str,
    label: Signal<String>,
    /// The video's accessible name, e.g. "Video from Bob".
    video_label: Signal<String>,
    node_ref: NodeRef<Video>,
    /// The local preview is muted so people don't hear themselves.
    muted: bool,
    /// No picture is being sent: show the placeholder.
    camera_off: Signal<bool>,
    /// Said over the video, e.g. "Alice muted".
    badge: Signal<Option<String>>,
    /// This one connection is being restored.
    #[prop(optional)]
    reconnecting: Signal<bool>,
    /// Shown large, the others in a strip.
    #[prop(optional)]
    large: Signal<bool>,
    /// This person is speaking: the tile is outlined.
    #[prop(optional)]
    speaking: Signal<bool>,
    /// This person hosts the room: the tile says so.
    #[prop(optional)]
    host: Signal<bool>,
    /// The person marked them verified (the code matched, and has not changed since).
    #[prop(optional)]
    verified: Signal<bool>,
    /// Their hand is up: its place in the order hands went up (1 for the first).
    #[prop(optional)]
    hand: Signal<Option<usize>>,
    /// The reactions floating over the tile now, by id.
    #[prop(optional)]
    reactions: Signal<Vec<(u64, Reaction)>>,
    /// Clicking the tile (or Enter on it) does this.
    #[prop(optional)]
    on_select: Option<Callback<()>>,
    /// The video has started playing.
    #[prop(optional)]
    on_playing: Option<Callback<()>>,
    /// Buttons about this person, over the video.
    #[prop(optional)]
    children: Option<Children>,
) -> AnyView {
    let initial = move || {
        label
            .get()
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    };
    let select = move || {
        if let Some(select) = on_select {
            select.run(());
        }
    };
    let i18n = use_i18n();
    view! {
        <figure
            class=format!("tile {class}")
            class:camera-off=move || camera_off.get()
            class:reconnecting=move || reconnecting.get()
            class:large=move || large.get()
            class:speaking=move || speaking.get()
            tabindex=on_select.map(|_| "0")
            aria-pressed=move || on_select.map(|_| large.get().to_string())
            on:click=move |_| select()
            on:keydown=move |ev| {
                if ev.key() == "Enter" {
                    select();
                }
            }
        >
            <video
                node_ref=node_ref
                autoplay
                playsinline
                muted=muted
                prop:muted=muted
                aria-label=move || video_label.get()
                on:playing=move |_| {
                    if let Some(playing) = on_playing {
                        playing.run(());
                    }
                }
            ></video>
            <Show when=move || camera_off.get()>
                <div class="placeholder" aria-label=move || td_string!(i18n.get_locale(), people.camera_off_of, name = label.get())>
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <span class="placeholder-text">{move || td_string!(i18n.get_locale(), people.camera_off)}</span>
                </div>
            </Show>
            <Show when=move || reconnecting.get()>
                <span class="reconnecting-note" role="note">{move || td_string!(i18n.get_locale(), people.reconnecting)}</span>
            </Show>
            <Show when=move || badge.with(Option::is_some)>
                <span class="badge" aria-live="polite">{move || badge.get()}</span>
            </Show>
            {children.map(|children| view! { <div class="tile-actions">{children()}</div> })}
            <Show when=move || hand.get().is_some()>
                <span
                    class="hand-badge"
                    role="img"
                    aria-label=move || {
                        td_string!(i18n.get_locale(), people.hand_raised_place, place = hand.get().unwrap_or_default())
                    }
                >
                    "✋"
                    <span class="hand-place">{move || hand.get().unwrap_or_default()}</span>
                </span>
            </Show>
            // Said to screen readers by the call's live region, with the sender's name.
            <div class="floating-reactions" aria-hidden="true">
                <For each=move || reactions.get() key=|(id, _)| *id let((_, reaction))>
                    <span class="reaction">{reaction.emoji()}</span>
                </For>
            </div>
            <figcaption>
                {move || label.get()}
                <Show when=move || host.get()>
                    <span class="host-badge">{move || td_string!(i18n.get_locale(), people.host)}</span>
                </Show>
                <Show when=move || verified.get()>
                    <span class="verified-badge">{move || td_string!(i18n.get_locale(), people.verified)}</span>
                </Show>
            </figcaption>
        </figure>
    }
    .into_any()
}

/// Another person's tile. Their stream is the session's: once the video element is on
/// screen, the session is asked to show the stream in it.
#[component]
pub fn RemoteTile(
    id: PeerId,
    call: CallState,
    send: Callback<UiCommand>,
    /// Which tile is shown large, if any.
    focused: RwSignal<Option<PeerId>>,
) -> impl IntoView {
    let person = move || {
        call.people
            .with(|people| people.iter().find(|p| p.id == id).cloned())
    };
    let name = Signal::derive(move || person().map(|p| p.name).unwrap_or_default());
    let node_ref = NodeRef::<Video>::new();
    browser::show_video_when_loaded(node_ref, id, send);
    let i18n = use_i18n();
    view! {
        <VideoTile
            class="remote"
            label=name
            video_label=Signal::derive(move || td_string!(i18n.get_locale(), people.video_from, name = name.get()).to_string())
            node_ref
            muted=false
            camera_off=Signal::derive(move || person().is_some_and(|p| !p.media.video))
            badge=Signal::derive(move || {
                person()
                    .filter(|p| !p.media.audio)
                    .map(|p| td_string!(i18n.get_locale(), people.name_muted, name = p.name).to_string())
            })
            reconnecting=Signal::derive(move || {
                person().is_some_and(|p| p.link == Link::Interrupted)
            })
            large=Signal::derive(move || focused.get() == Some(id))
            speaking=Signal::derive(move || call.speaking.get() == Some(id))
            host=Signal::derive(move || call.host.get() == Some(id))
            hand=hand_place(call, Some(id))
            reactions=reactions_of(call, Some(id))
            verified=Signal::derive(move || person().is_some_and(|p| p.verified))
            on_playing=Callback::new(move |()| {
                if !call.remote_playing.get_untracked() {
                    call.remote_playing.set(true);
                }
            })
            on_select=Callback::new(move |()| {
                focused.update(|f| *f = if *f == Some(id) { None } else { Some(id) })
            })
        >
            <button
                class="verify"
                title=move || td_string!(i18n.get_locale(), people.verify_title)
                on:click=move |ev| {
                    // The tile itself is a button too (focus): this click is not for it.
                    ev.stop_propagation();
                    send.run(UiCommand::Verify(id));
                }
                on:keydown=move |ev| ev.stop_propagation()
            >
                {move || td_string!(i18n.get_locale(), people.verify_name, name = name.get())}
            </button>
        </VideoTile>
    }
}

/// Where someone's hand is in the order hands went up (1 for the first); `None` is this
/// person.
pub fn hand_place(call: CallState, who: Option<PeerId>) -> Signal<Option<usize>> {
    Signal::derive(move || {
        call.hands
            .with(|hands| hands.iter().position(|h| h.who == who).map(|i| i + 1))
    })
}

/// The reactions floating over someone's tile; `None` is this person.
pub fn reactions_of(call: CallState, who: Option<PeerId>) -> Signal<Vec<(u64, Reaction)>> {
    Signal::derive(move || {
        call.reactions.with(|shown| {
            shown
                .iter()
                .filter(|r| r.from == who)
                .map(|r| (r.id, r.reaction))
                .collect()
        })
    })
}
