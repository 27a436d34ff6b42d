use crate::call_state::{CallState, Device, DeviceKind, Sound, UiCommand};
use crate::i18n::*;
use leptos::prelude::*;

/// Camera and microphone choosers. The lists follow the browser's (they refresh when a
/// device is plugged in or out); choosing one switches mid-call without dropping it.
#[component]
pub fn DevicePicker(call: CallState, send: Callback<UiCommand>) -> AnyView {
    view! {
        <div class="devices">
            <DeviceSelect kind=DeviceKind::Camera devices=call.cameras current=call.camera_id send/>
            <DeviceSelect
                kind=DeviceKind::Microphone
                devices=call.microphones
                current=call.microphone_id
                send
            />
            <SoundSwitch
                call
                send
                label=|locale| td_string!(locale, controls.noise_suppression)
                pick=|s| &mut s.noise_suppression
            />
            <SoundSwitch
                call
                send
                label=|locale| td_string!(locale, controls.echo_cancellation)
                pick=|s| &mut s.echo_cancellation
            />
            <SoundSwitch
                call
                send
                label=|locale| td_string!(locale, controls.auto_gain)
                pick=|s| &mut s.auto_gain
            />
        </div>
    }
    .into_any()
}

/// One of the microphone's processing switches.
#[component]
fn SoundSwitch(
    call: CallState,
    send: Callback<UiCommand>,
    /// What the switch is called, in a language.
    label: fn(Locale) -> &'static str,
    pick: fn(&mut Sound) -> &mut bool,
) -> AnyView {
    let i18n = use_i18n();
    let on = move || {
        let mut sound = call.sound.get();
        *pick(&mut sound)
    };
    view! {
        <label class="sound-switch">
            <input
                type="checkbox"
                role="switch"
                prop:checked=on
                disabled=move || call.microphones.with(Vec::is_empty)
                on:change=move |ev| {
                    let mut sound = call.sound.get_untracked();
                    *pick(&mut sound) = event_target_checked(&ev);
                    send.run(UiCommand::SetSound(sound));
                }
            />
            {move || label(i18n.get_locale())}
        </label>
    }
    .into_any()
}

#[component]
fn DeviceSelect(
    kind: DeviceKind,
    devices: RwSignal<Vec<Device>>,
    current: RwSignal<Option<String>>,
    send: Callback<UiCommand>,
) -> AnyView {
    let i18n = use_i18n();
    let id = match kind {
        DeviceKind::Camera => "device-camera",
        DeviceKind::Microphone => "device-microphone",
    };
    let label = move || match kind {
        DeviceKind::Camera => td_string!(i18n.get_locale(), controls.camera),
        DeviceKind::Microphone => td_string!(i18n.get_locale(), controls.microphone),
    };
    // A device the browser gives no name (before permission, say): "Camera 2".
    let numbered = move |number: usize| match kind {
        DeviceKind::Camera => {
            td_string!(i18n.get_locale(), controls.camera_numbered, number).to_string()
        }
        DeviceKind::Microphone => {
            td_string!(i18n.get_locale(), controls.microphone_numbered, number).to_string()
        }
    };
    view! {
        <label for=id>{label}</label>
        <select
            id=id
            disabled=move || devices.with(Vec::is_empty)
            on:change=move |ev| send.run(UiCommand::UseDevice(kind, event_target_value(&ev)))
        >
            <For
                each=move || devices.get().into_iter().enumerate()
                key=|(_, device)| device.id.clone()
                children=move |(index, device)| {
                    let label = device.label.clone();
                    let name = move || {
                        if label.is_empty() { numbered(index + 1) } else { label.clone() }
                    };
                    let id = device.id.clone();
                    let selected = move || current.with(|c| c.as_deref() == Some(id.as_str()));
                    view! {
                        <option value=device.id.clone() prop:selected=selected>
                            {name}
                        </option>
                    }
                }
            />
        </select>
    }
    .into_any()
}
