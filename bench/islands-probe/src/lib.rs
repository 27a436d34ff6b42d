//! How much wasm a home page costs in Leptos 0.8's islands mode (bench/islands-probe.sh):
//! the home form, the language picker and the connection check as islands, the rest
//! server-only HTML. With the feature `whole-app`, the same three parts hydrate as the app
//! does today (the whole page, with the router): the difference is what islands save. A
//! size probe only: it is built, not served.
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn validate(value: &str, max: usize, room: bool) -> Result<String, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty");
    }
    if value.chars().count() > max {
        return Err("too long");
    }
    if room
        && !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("characters");
    }
    if value.chars().any(char::is_control) {
        return Err("control");
    }
    Ok(value.to_owned())
}

#[cfg_attr(not(feature = "whole-app"), island)]
#[cfg_attr(feature = "whole-app", component)]
pub fn HomeForm() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let room = RwSignal::new(String::new());
    let name_error = RwSignal::new(None::<&'static str>);
    let room_error = RwSignal::new(None::<&'static str>);
    let new_room = move |_| {
        let mut bytes = [0u8; 9];
        let crypto = window().crypto().expect("crypto");
        if crypto.get_random_values_with_u8_array(&mut bytes).is_ok() {
            let key: String = bytes.iter().map(|b| char::from(b'a' + b % 26)).collect();
            room.set(key);
        } else {
            room_error.set(Some("no random"));
        }
    };
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = validate(&name.get_untracked(), 32, false);
        let r = validate(&room.get_untracked(), 64, true);
        name_error.set(n.as_ref().err().copied());
        room_error.set(r.as_ref().err().copied());
        if let (Ok(n), Ok(r)) = (n, r) {
            let url = format!("/call/{}/{}", js_sys::encode_uri_component(&n), r);
            let _ = window().location().set_href(&url);
        }
    };
    view! {
        <form on:submit=join>
            <label for="name">"Your name"</label>
            <input id="name" name="name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
            <p class="error">{move || name_error.get()}</p>
            <label for="room">"Room"</label>
            <input id="room" name="room" prop:value=room on:input=move |ev| room.set(event_target_value(&ev))/>
            <button type="button" on:click=new_room>"New room"</button>
            <p class="error">{move || room_error.get()}</p>
            <button>"Join"</button>
        </form>
    }
}

#[cfg_attr(not(feature = "whole-app"), island)]
#[cfg_attr(feature = "whole-app", component)]
pub fn LanguagePicker() -> impl IntoView {
    let pick = move |ev: leptos::ev::Event| {
        let code = event_target_value(&ev);
        let cookie = format!("i18n_pref_locale={code}; path=/; max-age=31536000");
        let _ = document()
            .unchecked_into::<web_sys::HtmlDocument>()
            .set_cookie(&cookie);
        let _ = window().location().reload();
    };
    view! {
        <select on:change=pick>
            <option value="en-GB">"English"</option>
            <option value="de">"Deutsch"</option>
            <option value="fr">"Français"</option>
            <option value="es">"Español"</option>
        </select>
    }
}

#[derive(serde::Deserialize)]
struct Ice {
    urls: Vec<String>,
}

#[cfg_attr(not(feature = "whole-app"), island)]
#[cfg_attr(feature = "whole-app", component)]
pub fn ConnectionCheck() -> impl IntoView {
    let report = RwSignal::new(None::<String>);
    let run = move |_| {
        leptos::task::spawn_local(async move {
            let response =
                wasm_bindgen_futures::JsFuture::from(window().fetch_with_str("/ice")).await;
            let Ok(response) = response else {
                report.set(Some("no server".into()));
                return;
            };
            let response: web_sys::Response = response.unchecked_into();
            let text = wasm_bindgen_futures::JsFuture::from(response.text().expect("text")).await;
            let servers: Vec<Ice> = text
                .ok()
                .and_then(|t| t.as_string())
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
            let config = web_sys::RtcConfiguration::new();
            let list = js_sys::Array::new();
            for s in servers {
                let server = web_sys::RtcIceServer::new();
                let urls = js_sys::Array::new();
                for u in s.urls {
                    urls.push(&u.into());
                }
                server.set_urls(&urls);
                list.push(&server);
            }
            config.set_ice_servers(&list);
            let pc = web_sys::RtcPeerConnection::new_with_configuration(&config).expect("pc");
            let _ = pc.create_data_channel("check");
            let found = std::rc::Rc::new(std::cell::Cell::new(0u32));
            let f = found.clone();
            let on = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::RtcPeerConnectionIceEvent)>::new(
                move |ev: web_sys::RtcPeerConnectionIceEvent| {
                    if ev.candidate().is_some() {
                        f.set(f.get() + 1);
                    }
                },
            );
            pc.set_onicecandidate(Some(on.as_ref().unchecked_ref()));
            on.forget();
            let offer = wasm_bindgen_futures::JsFuture::from(pc.create_offer()).await;
            if let Ok(offer) = offer {
                let _ = wasm_bindgen_futures::JsFuture::from(
                    pc.set_local_description(offer.unchecked_ref()),
                )
                .await;
            }
            report.set(Some(format!("{} paths", found.get())));
        });
    };
    view! {
        <section>
            <button on:click=run>"Check my connection"</button>
            <p>{move || report.get()}</p>
        </section>
    }
}

#[cfg(not(feature = "whole-app"))]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}

#[cfg(feature = "whole-app")]
#[component]
fn App() -> impl IntoView {
    use leptos_router::components::{Route, Router, Routes};
    use leptos_router::StaticSegment;
    view! {
        <Router>
            <main>
                <Routes fallback=|| "Not found">
                    <Route
                        path=StaticSegment("")
                        view=|| view! { <HomeForm/> <LanguagePicker/> <ConnectionCheck/> }
                    />
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(feature = "whole-app")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_body(App);
}
