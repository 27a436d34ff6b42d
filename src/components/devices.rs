use crate::call_state::{CallState, Device, DeviceKind, Sound, UiCommand};
use leptos::prelude::*;

/// Camera and microphone choosers. The lists follow the browser's (they refresh when a
/// device is plugged in or out); choosing one switches mid-call without dropping it.
#[component]
pub fn DevicePicker(call: CallState, send: Callback<UiCommand>) -> AnyView {
    view! {
        <div class="devices">
            <DeviceSelect
                label="Camera"
                kind=DeviceKind::Camera
                devices=call.cameras
                current=call.camera_id
                send
            />
            <DeviceSelect
                label="Microphone"
                kind=DeviceKind::Microphone
                devices=call.microphones
                current=call.microphone_id
                send
            />
            <SoundSwitch call send label="Noise suppression" pick=|s| &mut s.noise_suppression/>
            <SoundSwitch call send label="Echo cancellation" pick=|s| &mut s.echo_cancellation/>
            <SoundSwitch call send label="Automatic gain" pick=|s| &mut s.auto_gain/>
        </div>
    }
    .into_any()
}

/// One of the microphone's processing switches.
#[component]
fn SoundSwitch(
    call: CallState,
    send: Callback<UiCommand>,
    label: &'static str,
    pick: fn(&mut Sound) -> &mut bool,
) -> AnyView {
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
            {label}
        </label>
    }
    .into_any()
}

#[component]
fn DeviceSelect(
    label: &'static str,
    kind: DeviceKind,
    devices: RwSignal<Vec<Device>>,
    current: RwSignal<Option<String>>,
    send: Callback<UiCommand>,
) -> AnyView {
    let id = format!("device-{}", label.to_lowercase());
    view! {
        <label for=id.clone()>{label}</label>
        <select
            id=id
            disabled=move || devices.with(Vec::is_empty)
            on:change=move |ev| send.run(UiCommand::UseDevice(kind, event_target_value(&ev)))
        >
            <For
                each=move || devices.get().into_iter().enumerate()
                key=|(_, device)| device.id.clone()
                children=move |(index, device)| {
                    let name = if device.label.is_empty() {
                        format!("{label} {}", index + 1)
                    } else {
                        device.label.clone()
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
