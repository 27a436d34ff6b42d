use crate::browser;
use crate::call_state::{CallState, Transfer, TransferState, UiCommand};
use crate::components::person_picker::PersonPicker;
use crate::components::words;
use crate::i18n::*;
use crate::protocol::file::RECEIVED_FILE_TYPE;
use leptos::prelude::*;

/// Files to and from the others: pick one (or drop it on the call) and who gets it,
/// watch it go, cancel it, save what arrives. Files travel peer to peer, never through
/// the server; sent to everyone, each person gets a copy of their own.
#[component]
pub fn FilePanel(call: CallState, send: Callback<UiCommand>) -> AnyView {
    let i18n = use_i18n();
    view! {
        <section class="files" aria-label=move || td_string!(i18n.get_locale(), controls.files)>
            // With two or more others, a file goes to one of them or to everyone.
            <PersonPicker
                call
                class="file-to"
                label=move || td_string!(i18n.get_locale(), controls.send_to)
                everyone=move || td_string!(i18n.get_locale(), controls.everyone)
                picked=call.send_to
            />
            <div class="file-row">
                <label class="button file-pick" for="file-pick">{move || td_string!(i18n.get_locale(), controls.send_file)}</label>
                <input
                    type="file"
                    id="file-pick"
                    class="visually-hidden"
                    multiple
                    on:change=move |ev| browser::send_picked_files(&ev, send)
                />
                <span class="hint">
                    {move || {
                        let size = words::bytes(i18n.get_locale(), call.max_file_bytes.get());
                        td_string!(i18n.get_locale(), controls.file_limit, size)
                    }}
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
    let i18n = use_i18n();
    let transfer = Memo::new(move |_| {
        call.transfers
            .with(|all| all.iter().find(|t| t.id == id).cloned())
    });
    // A line about the transfer, in the page's language.
    let field = move |f: fn(Locale, &crate::call_state::Transfer) -> String| {
        move || {
            let locale = i18n.get_locale();
            transfer.with(|t| t.as_ref().map(|t| f(locale, t)).unwrap_or_default())
        }
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
        <li class="transfer" data-state=field(|_, t| state_name(&t.state).into())>
            <span class="file-name">{field(|_, t| t.name.clone())}</span>
            <span class="file-peer">
                {field(|locale, t| {
                    let name = &t.peer;
                    if t.sending {
                        td_string!(locale, controls.to_peer, name).to_string()
                    } else {
                        td_string!(locale, controls.from_peer, name).to_string()
                    }
                })}
            </span>
            <span class="file-size">{move || words::bytes(i18n.get_locale(), size())}</span>
            <progress
                max=move || size().max(1).to_string()
                prop:value=move || done().to_string()
                aria-label=field(|locale, t| {
                    let (file, name) = (&t.name, &t.peer);
                    if t.sending {
                        td_string!(locale, controls.sending_file, file, name).to_string()
                    } else {
                        td_string!(locale, controls.receiving_file, file, name).to_string()
                    }
                })
            ></progress>
            <span class="file-state">{field(describe)}</span>
            <Show when=open>
                <button
                    class="secondary"
                    aria-label=field(|locale, t| {
                        let (file, name) = (&t.name, &t.peer);
                        if t.sending {
                            td_string!(locale, controls.cancel_to, file, name).to_string()
                        } else {
                            td_string!(locale, controls.cancel_from, file, name).to_string()
                        }
                    })
                    on:click=move |_| send.run(UiCommand::CancelTransfer(id))
                >
                    {move || td_string!(i18n.get_locale(), controls.cancel)}
                </button>
            </Show>
            {move || saved().map(|url| {
                let name = transfer.with(|t| t.as_ref().map(|t| t.name.clone()).unwrap_or_default());
                view! { <a class="save" href=url download=name.clone() type=RECEIVED_FILE_TYPE>{let shown = name.clone(); move || td_string!(i18n.get_locale(), controls.save_file, name = &shown)}</a> }
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

fn describe(locale: Locale, transfer: &Transfer) -> String {
    let sending = transfer.sending;
    match &transfer.state {
        TransferState::Preparing => td_string!(locale, controls.file_checking).into(),
        TransferState::Active if sending => td_string!(locale, controls.file_sending).into(),
        TransferState::Active => td_string!(locale, controls.file_receiving).into(),
        TransferState::Done { .. } if sending => td_string!(locale, controls.file_sent).into(),
        TransferState::Done { .. } => td_string!(locale, controls.file_received).into(),
        TransferState::Cancelled => td_string!(locale, controls.file_cancelled).into(),
        TransferState::Failed(failure) => {
            let why = words::transfer_failure(locale, failure, &transfer.name, &transfer.peer);
            td_string!(locale, controls.file_failed, why).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call_state::TransferFailure;
    use crate::protocol::file::TransferError;

    #[test]
    fn a_transfer_is_described_in_the_language_of_the_page() {
        let en = Locale::en_GB;
        let transfer = |state: TransferState, sending: bool| Transfer {
            id: 1,
            name: "notes.pdf".into(),
            peer: "Mallory".into(),
            size: 1000,
            sending,
            done_bytes: 0,
            state,
        };
        assert_eq!(
            describe(en, &transfer(TransferState::Preparing, true)),
            "Checking the file…"
        );
        assert_eq!(
            describe(en, &transfer(TransferState::Active, false)),
            "Receiving…"
        );
        assert_eq!(
            describe(en, &transfer(TransferState::Done { url: None }, false)),
            "Received intact"
        );
        let failed = |why| TransferState::Failed(TransferFailure::Here(why));
        assert_eq!(
            describe(
                en,
                &transfer(failed(TransferError::MoreThanAnnounced), false)
            ),
            "Failed: Mallory sent more than the announced size"
        );
        let short = TransferError::WrongSize {
            got: 500,
            expected: 1000,
        };
        assert_eq!(
            describe(en, &transfer(failed(short), false)),
            "Failed: arrived with 500 bytes instead of 1000"
        );
        assert_eq!(
            describe(Locale::de, &transfer(failed(short), false)),
            "Fehlgeschlagen: mit 500 statt 1000 Bytes angekommen"
        );
        // The receiver's verdict, on the sender's page.
        let theirs = TransferState::Failed(TransferFailure::Theirs(Ok(TransferError::Corrupt)));
        assert_eq!(
            describe(Locale::fr, &transfer(theirs, true)),
            "Échec : l’autre côté indique : arrivé endommagé (sa somme de contrôle ne correspond pas), il n’a donc pas été enregistré"
        );
        let unknown = TransferState::Failed(TransferFailure::Theirs(Err("no thanks".into())));
        assert_eq!(
            describe(en, &transfer(unknown, true)),
            "Failed: the other side says: no thanks"
        );
    }
}
