use crate::browser;
use crate::call_state::{CallState, TransferState, UiCommand};
use crate::components::person_picker::PersonPicker;
use crate::protocol::file::{human_bytes, RECEIVED_FILE_TYPE};
use leptos::prelude::*;

/// Files to and from the others: pick one (or drop it on the call) and who gets it,
/// watch it go, cancel it, save what arrives. Files travel peer to peer, never through
/// the server; sent to everyone, each person gets a copy of their own.
#[component]
pub fn FilePanel(call: CallState, send: Callback<UiCommand>) -> AnyView {
    view! {
        <section class="files" aria-label="Files">
            // With two or more others, a file goes to one of them or to everyone.
            <PersonPicker call class="file-to" label="Send to" everyone="Everyone" picked=call.send_to/>
            <div class="file-row">
                <label class="button file-pick" for="file-pick">"Send a file"</label>
                <input
                    type="file"
                    id="file-pick"
                    class="visually-hidden"
                    multiple
                    on:change=move |ev| browser::send_picked_files(&ev, send)
                />
                <span class="hint">
                    {move || format!("up to {}, or drop it on the call", human_bytes(call.max_file_bytes.get()))}
                </span>
            </div>
            <ul class="transfers">
                <For
                    each=move || call.transfers.with(|all| all.iter().map(|t| t.id).collect::<Vec<_>>())
                    key=|id| *id
                    children=move |id| view! { <TransferRow call id send/> }
                />
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn TransferRow(call: CallState, id: u32, send: Callback<UiCommand>) -> AnyView {
    let transfer = Memo::new(move |_| {
        call.transfers
            .with(|all| all.iter().find(|t| t.id == id).cloned())
    });
    let field = move |f: fn(&crate::call_state::Transfer) -> String| {
        move || transfer.with(|t| t.as_ref().map(f).unwrap_or_default())
    };
    let size = move || transfer.with(|t| t.as_ref().map_or(0, |t| t.size));
    let done = move || transfer.with(|t| t.as_ref().map_or(0, |t| t.done_bytes));
    let open = move || transfer.with(|t| t.as_ref().is_some_and(|t| t.state.is_open()));
    let saved = move || {
        transfer.with(|t| match t.as_ref().map(|t| &t.state) {
            Some(TransferState::Done { url: Some(url) }) => Some(url.clone()),
            _ => None,
        })
    };
    view! {
        <li class="transfer" data-state=field(|t| state_name(&t.state).into())>
            <span class="file-name">{field(|t| t.name.clone())}</span>
            <span class="file-peer">
                {field(|t| format!("{} {}", if t.sending { "to" } else { "from" }, t.peer))}
            </span>
            <span class="file-size">{move || human_bytes(size())}</span>
            <progress
                max=move || size().max(1).to_string()
                prop:value=move || done().to_string()
                aria-label=field(|t| {
                    if t.sending {
                        format!("Sending {} to {}", t.name, t.peer)
                    } else {
                        format!("Receiving {} from {}", t.name, t.peer)
                    }
                })
            ></progress>
            <span class="file-state">{field(|t| describe(&t.state, t.sending))}</span>
            <Show when=open>
                <button
                    class="secondary"
                    aria-label=field(|t| {
                        format!("Cancel {} {} {}", t.name, if t.sending { "to" } else { "from" }, t.peer)
                    })
                    on:click=move |_| send.run(UiCommand::CancelTransfer(id))
                >
                    "Cancel"
                </button>
            </Show>
            {move || saved().map(|url| {
                let name = transfer.with(|t| t.as_ref().map(|t| t.name.clone()).unwrap_or_default());
                view! { <a class="save" href=url download=name.clone() type=RECEIVED_FILE_TYPE>{format!("Save {name}")}</a> }
            })}
        </li>
    }
    .into_any()
}

fn state_name(state: &TransferState) -> &'static str {
    match state {
        TransferState::Preparing => "preparing",
        TransferState::Active => "active",
        TransferState::Done { .. } => "done",
        TransferState::Cancelled => "cancelled",
        TransferState::Failed(_) => "failed",
    }
}

fn describe(state: &TransferState, sending: bool) -> String {
    match state {
        TransferState::Preparing => "Checking the file…".into(),
        TransferState::Active if sending => "Sending…".into(),
        TransferState::Active => "Receiving…".into(),
        TransferState::Done { .. } if sending => "Sent".into(),
        TransferState::Done { .. } => "Received intact".into(),
        TransferState::Cancelled => "Cancelled".into(),
        TransferState::Failed(why) => format!("Failed: {why}"),
    }
}
