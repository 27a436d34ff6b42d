use crate::call_state::{CallState, Device, DeviceKind, UiCommand};
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
        </div>
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
