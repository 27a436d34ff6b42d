//! Who is in the call, who hosts it, whether the room is locked, and, for the host, what
//! they can do about the room and each person.

use crate::call_state::{CallState, UiCommand};
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
    view! {
        <section class="people" aria-label="People">
            <h2>
                "People"
                <Show when=move || call.locked.get()>
                    <span class="locked-badge">"Locked"</span>
                </Show>
            </h2>
            <Show when=hosting>
                <button
                    class="lock"
                    aria-pressed=move || call.locked.get().to_string()
                    title="While the room is locked, people opening its link wait until you let them in"
                    on:click=move |_| send.run(UiCommand::Host(HostCommand::Lock(!call.locked.get_untracked())))
                >
                    {move || if call.locked.get() { "Unlock room" } else { "Lock room" }}
                </button>
            </Show>
            <HandsUp call send/>
            <ul>
                <li>
                    <span class="who">{move || format!("{} (you)", you.get())}</span>
                    <Show when=hosting>
                        <span class="host-badge">"Host"</span>
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
                    "As the host, you can ask someone to mute: their sound goes straight to the others, so only they can switch it off."
                </p>
            </Show>
        </section>
    }
    .into_any()
}

/// Raised hands, in the order they went up; the host can lower anyone's.
#[component]
fn HandsUp(call: CallState, send: Callback<UiCommand>) -> AnyView {
    view! {
        <Show when=move || call.hands.with(|h| !h.is_empty())>
            <h3 class="hands-title">"Hands raised"</h3>
            <ol class="hands" aria-label="Hands raised">
                <For
                    each=move || call.hands.get()
                    key=|hand| (hand.who, hand.name.clone())
                    let(hand)
                >
                    <li>
                        <span class="who">
                            {match hand.who {
                                Some(_) => hand.name.clone(),
                                None => format!("{} (you)", hand.name),
                            }}
                        </span>
                        {match hand.who {
                            None => {
                                view! {
                                    <button on:click=move |_| send.run(UiCommand::ToggleHand)>
                                        "Lower hand"
                                    </button>
                                }
                                    .into_any()
                            }
                            Some(id) => {
                                let label = format!("Lower {}'s hand", hand.name);
                                view! {
                                    <Show when=move || call.is_host.get()>
                                        <button
                                            aria-label=label.clone()
                                            on:click=move |_| send.run(UiCommand::LowerHand(id))
                                        >
                                            "Lower hand"
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
    view! {
        <li>
            <span class="who">{name}</span>
            <Show when=hosts>
                <span class="host-badge">"Host"</span>
            </Show>
            <Show when=can_act>
                <span class="host-actions">
                    <Show
                        when=move || confirming.get() == Some(id)
                        fallback=move || {
                            view! {
                                <button on:click=move |_| send.run(UiCommand::Host(HostCommand::MakeHost(id)))>
                                    "Make host"
                                </button>
                                <button on:click=move |_| send.run(UiCommand::Host(HostCommand::AskToMute(id)))>
                                    "Ask to mute"
                                </button>
                                <button
                                    class="danger"
                                    aria-label=move || format!("Remove {} from the call", name())
                                    on:click=move |_| confirming.set(Some(id))
                                >
                                    "Remove"
                                </button>
                            }
                        }
                    >
                        <span role="alertdialog" aria-label="Confirm removal">
                            {move || format!("Remove {} from the call? ", name())}
                            <button
                                class="danger"
                                on:click=move |_| {
                                    confirming.set(None);
                                    send.run(UiCommand::Host(HostCommand::Remove(id)));
                                }
                            >
                                {move || format!("Remove {}", name())}
                            </button>
                            <button on:click=move |_| confirming.set(None)>"Cancel"</button>
                        </span>
                    </Show>
                </span>
            </Show>
        </li>
    }
}
