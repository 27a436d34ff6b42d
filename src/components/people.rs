//! Who is in the call, who hosts it, whether the room is locked, and, for the host, what
//! they can do about the room and each person.

use crate::call_state::{CallState, UiCommand};
use crate::i18n::*;
use crate::protocol::signaling::HostCommand;
use crate::protocol::signaling::PeerId;
use leptos::prelude::*;

/// The people list: everyone in the call in the order they came, the host marked. The
/// host's own list has, for each person, **Make host**, **Ask to mute** and **Remove**
/// (which asks to be confirmed first).
#[component]
pub fn PeopleList(call: CallState, send: Callback<UiCommand>, you: Signal<String>) -> AnyView {
    // Whose removal waits for the host's confirmation.
    let confirming = RwSignal::new(None::<PeerId>);
    let hosting = move || call.is_host.get();
    let i18n = use_i18n();
    view! {
        <section class="people" aria-label=move || td_string!(i18n.get_locale(), people.people)>
            <h2>
                {move || td_string!(i18n.get_locale(), people.people)}
                <Show when=move || call.locked.get()>
                    <span class="locked-badge">{move || td_string!(i18n.get_locale(), people.locked)}</span>
                </Show>
            </h2>
            <Show when=hosting>
                <button
                    class="lock"
                    aria-pressed=move || call.locked.get().to_string()
                    title=move || td_string!(i18n.get_locale(), people.lock_title)
                    on:click=move |_| send.run(UiCommand::Host(HostCommand::Lock(!call.locked.get_untracked())))
                >
                    {move || {
                        if call.locked.get() {
                            td_string!(i18n.get_locale(), people.unlock_room)
                        } else {
                            td_string!(i18n.get_locale(), people.lock_room)
                        }
                    }}
                </button>
            </Show>
            <HandsUp call send/>
            <ul>
                <li>
                    <span class="who">{move || td_string!(i18n.get_locale(), people.name_you, name = you.get())}</span>
                    <Show when=hosting>
                        <span class="host-badge">{move || td_string!(i18n.get_locale(), people.host)}</span>
                    </Show>
                </li>
                <For
                    each=move || call.people.with(|p| p.iter().map(|p| p.id).collect::<Vec<_>>())
                    key=|id| *id
                    let(id)
                >
                    <PersonRow id call send confirming/>
                </For>
            </ul>
            <Show when=hosting>
                <p class="people-note">
                    {move || td_string!(i18n.get_locale(), people.host_note)}
                </p>
            </Show>
        </section>
    }
    .into_any()
}

/// Raised hands, in the order they went up; the host can lower anyone's.
#[component]
fn HandsUp(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let i18n = use_i18n();
    view! {
        <Show when=move || call.hands.with(|h| !h.is_empty())>
            <h3 class="hands-title">{move || td_string!(i18n.get_locale(), people.hands_raised)}</h3>
            <ol class="hands" aria-label=move || td_string!(i18n.get_locale(), people.hands_raised)>
                <For
                    each=move || call.hands.get()
                    key=|hand| (hand.who, hand.name.clone())
                    let(hand)
                >
                    <li>
                        <span class="who">
                            {match hand.who {
                                Some(_) => hand.name.clone().into_any(),
                                None => { let name = hand.name.clone(); (move || td_string!(i18n.get_locale(), people.name_you, name = &name)).into_any() }
                            }}
                        </span>
                        {match hand.who {
                            None => {
                                view! {
                                    <button on:click=move |_| send.run(UiCommand::ToggleHand)>
                                        {move || td_string!(i18n.get_locale(), people.lower_hand)}
                                    </button>
                                }
                                    .into_any()
                            }
                            Some(id) => {
                                let name = hand.name.clone();
                                view! {
                                    <Show when=move || call.is_host.get()>
                                        <button
                                            aria-label={
                                                let name = name.clone();
                                                move || td_string!(i18n.get_locale(), people.lower_hand_of, name = name.clone())
                                            }
                                            on:click=move |_| send.run(UiCommand::LowerHand(id))
                                        >
                                            {move || td_string!(i18n.get_locale(), people.lower_hand)}
                                        </button>
                                    </Show>
                                }
                                    .into_any()
                            }
                        }}
                    </li>
                </For>
            </ol>
        </Show>
    }
    .into_any()
}

#[component]
fn PersonRow(
    id: PeerId,
    call: CallState,
    send: Callback<UiCommand>,
    confirming: RwSignal<Option<PeerId>>,
) -> impl IntoView {
    let name = move || {
        call.people.with(|people| {
            people
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_default()
        })
    };
    let hosts = move || call.host.get() == Some(id);
    let can_act = move || call.is_host.get();
    let i18n = use_i18n();
    view! {
        <li>
            <span class="who">{name}</span>
            <Show when=hosts>
                <span class="host-badge">{move || td_string!(i18n.get_locale(), people.host)}</span>
            </Show>
            <Show when=can_act>
                <span class="host-actions">
                    <Show
                        when=move || confirming.get() == Some(id)
                        fallback=move || {
                            view! {
                                <button on:click=move |_| send.run(UiCommand::Host(HostCommand::MakeHost(id)))>
                                    {move || td_string!(i18n.get_locale(), people.make_host)}
                                </button>
                                <button on:click=move |_| send.run(UiCommand::Host(HostCommand::AskToMute(id)))>
                                    {move || td_string!(i18n.get_locale(), people.ask_to_mute)}
                                </button>
                                <button
                                    class="danger"
                                    aria-label=move || td_string!(i18n.get_locale(), people.remove_from_call, name = name())
                                    on:click=move |_| confirming.set(Some(id))
                                >
                                    {move || td_string!(i18n.get_locale(), people.remove)}
                                </button>
                            }
                        }
                    >
                        <span role="alertdialog" aria-label=move || td_string!(i18n.get_locale(), people.confirm_removal)>
                            {move || td_string!(i18n.get_locale(), people.remove_from_call_question, name = name())}
                            " "
                            <button
                                class="danger"
                                on:click=move |_| {
                                    confirming.set(None);
                                    send.run(UiCommand::Host(HostCommand::Remove(id)));
                                }
                            >
                                {move || td_string!(i18n.get_locale(), people.remove_name, name = name())}
                            </button>
                            <button on:click=move |_| confirming.set(None)>{move || td_string!(i18n.get_locale(), people.cancel)}</button>
                        </span>
                    </Show>
                </span>
            </Show>
        </li>
    }
}
