//! A call page before the app has loaded. Its HTML carries a small inline script that
//! starts the camera and microphone request at once, while the wasm is still on its way;
//! the app takes the pending promise over instead of asking a second time. Starting a
//! camera takes a noticeable while, so the two run side by side rather than one after
//! the other. Where the page is the card a link opens on (`components::join_card`), the
//! script shows the camera in its preview and holds back a press of Join now, marking the
//! form, for the app to join with once it has loaded.
//!
//! The page also gets its seat early: a second script opens the signaling socket and
//! sends `join` (at once where the call starts at once, the page having come through
//! Tandem: its home form, a reload; on the card, when Join now is pressed before the
//! app), and keeps what the server answers, in order, until the app's session takes the
//! socket over (`take_socket`; only for the same name), replays what was kept, and goes
//! on without joining a second time. A page whose app never arrives gives the seat back:
//! with `leave` when it is closed, and after [`EARLY_SOCKET_WAIT_MS`] otherwise (the app
//! then joins as it would have without the script). A `leave` sent while a page closes
//! may not get out, so the socket also says what it is (`EARLY_QUERY`): the server frees
//! its seat as soon as it drops, until the app has said a word on it. A page that holds a seat from before
//! (a reload: `seat_key`) asks for it back from the app, so the script leaves it alone.
//!
//! The scripts (server side) and their readers (browser side) are one contract, kept here
//! so that neither can drift.

/// The property of `window` where the script leaves its pending request.
const WINDOW_KEY: &str = "__tandemEarlyMedia";

/// The id of the join card's form.
pub const JOIN_FORM: &str = "join-card";

/// The id of the join card's camera preview.
pub const JOIN_PREVIEW: &str = "join-preview";

/// The attribute the script puts on the join card's form when Join now was pressed before
/// the app had loaded.
pub const SENT_EARLY: &str = "data-sent-early";

/// The attribute the app puts on `<html>` once it has taken the page over: from then on
/// the app joins, not the page's script.
pub const HYDRATED: &str = "data-hydrated";

/// The property of `window` where the socket script leaves its socket and what it kept.
const SOCKET_KEY: &str = "__tandemEarlySocket";

/// How long a socket opened by the page's script waits for the app before it gives its
/// seat back (the app joins anew if it arrives later). Far longer than the app takes to
/// load on a slow phone link (BENCHMARKS.md), and short enough that a page stuck without
/// its app does not sit in a call as a silent person for long.
pub const EARLY_SOCKET_WAIT_MS: u32 = 30_000;

/// Where a tab keeps the resume token of its seat in this room under this name
/// (`sessionStorage`): the app keeps it there, and the socket script stays away from a
/// seat the app will ask back.
pub fn seat_key(user: &str, room: &str) -> String {
    format!("tandem:seat:{room}:{user}")
}

/// The inline script a call page carries: the same request `client::media::acquire`
/// would make, with a rejection handler so a refusal is reported once, by the app; the
/// stream shown in the join card's preview; Join now held back until the app is there
/// (once it is, its own handler has stopped the form first).
#[cfg(feature = "ssr")]
pub fn script() -> String {
    format!(
        "if(navigator.mediaDevices&&navigator.mediaDevices.getUserMedia){{\
         var m=navigator.mediaDevices.getUserMedia({{audio:true,video:true}});\
         window.{WINDOW_KEY}=m;m.then(function(s){{function show(){{\
         var v=document.getElementById('{JOIN_PREVIEW}');if(v&&!v.srcObject)v.srcObject=s}}\
         if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',show);\
         else show()}},function(){{}})}}\
         document.addEventListener('submit',function(e){{var f=e.target;\
         if(f.id!=='{JOIN_FORM}'||e.defaultPrevented)return;\
         e.preventDefault();f.setAttribute('{SENT_EARLY}','')}})"
    )
}

/// Who the socket script joins as: the link's name at once (a call that starts at
/// once), or the name in the join card once Join now is pressed before the app is there.
#[cfg(feature = "ssr")]
pub enum EarlyJoin<'a> {
    AtOnce(&'a str),
    OnJoinNow,
}

/// The inline script that takes a call page's seat before the app is there
/// (`src/early_join.js`, given its values as one JSON object): opens the signaling socket
/// as `SignalingSocket` would, sends `join` once it is open, and keeps every message the
/// server sends until the app takes the socket. `room` is a valid call link's
/// (`call_link`). The name is the link's, or the card's trimmed, which the app compares
/// before it adopts the socket. `tests/early_join.rs` runs it in node against a real
/// server.
#[cfg(feature = "ssr")]
pub fn socket_script(when: EarlyJoin, room: &str) -> String {
    use crate::protocol::signaling::{ClientMessage, EARLY_QUERY, SIGNALING_PATH};
    let leave =
        serde_json::to_string(&ClientMessage::Leave).expect("a leave message has no fields");
    let config = serde_json::json!({
        "room": room,
        "name": match when {
            EarlyJoin::AtOnce(user) => Some(user),
            EarlyJoin::OnJoinNow => None,
        },
        "path": format!("{SIGNALING_PATH}?{EARLY_QUERY}"),
        "seats": seat_key("", room),
        "leave": leave,
        "waitMs": EARLY_SOCKET_WAIT_MS,
        "socketKey": SOCKET_KEY,
        "hydrated": HYDRATED,
        "form": JOIN_FORM,
        "sentEarly": SENT_EARLY,
    });
    format!("{}({})", *EARLY_JOIN, script_safe(&config.to_string()))
}

/// `src/early_join.js` as a page carries it: without its comment lines and indentation.
#[cfg(feature = "ssr")]
static EARLY_JOIN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("early_join.js")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
});

/// JSON text that cannot end the `<script>` it is written into: `<` and the two line
/// separators JavaScript once took for line ends are escaped (the same text to both).
#[cfg(feature = "ssr")]
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `value` as a JavaScript string literal that cannot end the `<script>` it is in.
#[cfg(all(feature = "ssr", test))]
fn js_string(value: &str) -> String {
    script_safe(&serde_json::to_string(value).expect("a string always encodes"))
}

/// Whether a request for a call page came through Tandem itself (its home form, its own
/// navigation, a reload): `Sec-Fetch-Site: same-origin`, which no other site can forge.
/// Such a call starts at once; a link from elsewhere opens on the join card.
#[cfg(feature = "ssr")]
pub fn came_through_tandem(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .is_some_and(|site| site == "same-origin")
}

/// The person and room of a valid call link `/call/:user/:room`, decoded; `None` for any
/// other path and for a link `CallScreen` would not start a call for (the same checks):
/// an invalid link must not turn the camera on.
#[cfg(feature = "ssr")]
pub fn call_link(path: &str) -> Option<(String, String)> {
    use crate::protocol::signaling::{validate_name, validate_room};
    use leptos_router::location::Url;
    let rest = path.strip_prefix("/call/")?;
    let mut segments = rest.split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some(user), Some(room), None) => {
            let (user, room) = (Url::unescape(user), Url::unescape(room));
            // As `CallScreen` has them: checked, and trimmed.
            let user = validate_name(&user).ok()?.to_owned();
            let room = validate_room(&room).ok()?.to_owned();
            Some((user, room))
        }
        _ => None,
    }
}

/// The request the script made, once: a later call on the same page asks afresh.
#[cfg(feature = "hydrate")]
pub fn take() -> Option<js_sys::Promise> {
    use wasm_bindgen::{JsCast, JsValue};
    let window: JsValue = web_sys::window()?.into();
    let key = JsValue::from_str(WINDOW_KEY);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    js_sys::Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &key).ok()?;
    early.dyn_into().ok()
}

/// The socket the page's script opened, and what the server sent on it before the app
/// took it (`join`'s answer first), in order.
#[cfg(feature = "hydrate")]
pub struct EarlySocket {
    pub socket: web_sys::WebSocket,
    /// Who the script joined as, and where: the app adopts the socket only for the same
    /// person in the same room.
    pub name: String,
    pub room: String,
    pub kept: Vec<String>,
}

/// The socket the page's script opened for this call, once: it stops keeping messages
/// and giving the seat back, which is now the app's to do. `None` where there was no
/// script, or it gave the seat back already.
#[cfg(feature = "hydrate")]
pub fn take_socket() -> Option<EarlySocket> {
    use wasm_bindgen::{JsCast, JsValue};
    let window: JsValue = web_sys::window()?.into();
    let key = JsValue::from_str(SOCKET_KEY);
    let early = js_sys::Reflect::get(&window, &key).ok()?;
    js_sys::Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &key).ok()?;
    let socket: web_sys::WebSocket = js_sys::Reflect::get(&early, &"socket".into())
        .ok()?
        .dyn_into()
        .ok()?;
    // From here on, the app's own listeners hear the socket.
    socket.set_onmessage(None);
    let kept = js_sys::Reflect::get(&early, &"queue".into())
        .ok()
        .and_then(|queue| queue.dyn_into::<js_sys::Array>().ok())
        .map(|queue| queue.iter().filter_map(|m| m.as_string()).collect())
        .unwrap_or_default();
    let text = |field: &str| {
        js_sys::Reflect::get(&early, &field.into())
            .ok()
            .and_then(|value| value.as_string())
            .unwrap_or_default()
    };
    let (name, room) = (text("name"), text("room"));
    Some(EarlySocket {
        socket,
        name,
        room,
        kept,
    })
}

#[cfg(feature = "hydrate")]
impl EarlySocket {
    /// Gives the seat it took back (`leave`) and closes it.
    pub fn give_back(self) {
        use crate::protocol::signaling::ClientMessage;
        if self.socket.ready_state() == web_sys::WebSocket::OPEN {
            if let Ok(leave) = serde_json::to_string(&ClientMessage::Leave) {
                let _ = self.socket.send_with_str(&leave);
            }
        }
        let _ = self.socket.close();
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_call_link_asks_for_the_camera_early() {
        assert!(call_link("/call/alice/room1").is_some());
        assert!(call_link("/call/Zo%C3%AB%20Martin/k3j4h5g6f7d8").is_some());
        assert!(call_link("/").is_none());
        assert!(call_link("/call/alice").is_none());
        assert!(call_link("/call/alice/not%20valid").is_none());
        assert!(call_link("/call/%20/room1").is_none());
        assert!(call_link("/call/alice/room1/extra").is_none());
        assert!(call_link("/calls/alice/room1").is_none());
    }

    #[test]
    fn a_call_link_names_its_person_and_room_decoded() {
        assert_eq!(
            call_link("/call/Zo%C3%AB%20Martin/room1"),
            Some(("Zoë Martin".into(), "room1".into()))
        );
        assert_eq!(call_link("/call/alice/not%20valid"), None);
    }

    /// The values `socket_script` gives the script (what runs is tested in node,
    /// tests/early_join.rs).
    fn config(script: &str) -> serde_json::Value {
        let at = script
            .rfind("})(")
            .expect("the script is called with its values");
        serde_json::from_str(&script[at + 3..script.len() - 1]).expect("one JSON object")
    }

    #[test]
    fn the_socket_script_is_given_the_contract_s_values() {
        use crate::protocol::signaling::{EARLY_QUERY, SIGNALING_PATH};
        let values = config(&socket_script(EarlyJoin::AtOnce("Zoë"), "room1"));
        assert_eq!(values["room"], "room1");
        assert_eq!(values["name"], "Zoë");
        assert_eq!(values["path"], format!("{SIGNALING_PATH}?{EARLY_QUERY}"));
        assert_eq!(
            values["seats"].as_str().map(|s| s.to_owned() + "Zoë"),
            Some(seat_key("Zoë", "room1"))
        );
        assert_eq!(values["waitMs"], EARLY_SOCKET_WAIT_MS);
        assert_eq!(values["socketKey"], SOCKET_KEY);
        assert_eq!(
            (values["hydrated"].as_str(), values["form"].as_str()),
            (Some(HYDRATED), Some(JOIN_FORM))
        );
        assert_eq!(values["sentEarly"], SENT_EARLY);
        let leave: crate::protocol::signaling::ClientMessage =
            serde_json::from_str(values["leave"].as_str().expect("leave's JSON text"))
                .expect("a message");
        assert_eq!(leave, crate::protocol::signaling::ClientMessage::Leave);
        // On the join card it waits for Join now.
        let values = config(&socket_script(EarlyJoin::OnJoinNow, "room1"));
        assert_eq!(values["name"], serde_json::Value::Null);
    }

    #[test]
    fn the_socket_script_is_its_file_without_comments() {
        let script = socket_script(EarlyJoin::OnJoinNow, "room1");
        assert!(
            !script.lines().any(|line| line.starts_with("//")),
            "{script}"
        );
        assert!(script.starts_with("(function (c) {"), "{script}");
        assert!(
            script.len() < include_str!("early_join.js").len(),
            "{}",
            script.len()
        );
    }

    #[test]
    fn a_call_link_is_read_as_the_call_screen_reads_it() {
        assert_eq!(
            call_link("/call/%20alice%20/%20room1"),
            Some(("alice".into(), "room1".into()))
        );
    }

    #[test]
    fn a_name_cannot_end_the_script_it_is_written_into() {
        let script = socket_script(
            EarlyJoin::AtOnce("</script><script>alert(1)</script>\u{2028}"),
            "room1",
        );
        assert_eq!(
            config(&script)["name"],
            "</script><script>alert(1)</script>\u{2028}"
        );
        assert!(!script.contains("</script>"), "{script}");
        assert!(!script.to_lowercase().contains("<script"), "{script}");
        // Still the same text to JavaScript and JSON: `\u003c` is `<`.
        let literal = js_string("a</script>\u{2028}");
        let back: String = serde_json::from_str(&literal).expect("a JSON string");
        assert_eq!(back, "a</script>\u{2028}");
    }

    #[test]
    fn the_script_leaves_its_request_where_the_reader_looks() {
        assert!(script().contains(&format!("window.{WINDOW_KEY}=")));
    }

    #[test]
    fn the_script_marks_the_join_card_the_app_looks_for() {
        let script = script();
        assert!(script.contains(&format!("f.id!=='{JOIN_FORM}'")));
        assert!(script.contains(&format!("f.setAttribute('{SENT_EARLY}','')")));
        assert!(script.contains(&format!("getElementById('{JOIN_PREVIEW}')")));
    }
}
