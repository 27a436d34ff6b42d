//! Where this tab keeps the resume token of its seat: per tab (a reload finds it; a new
//! tab does not, unless it was duplicated), per person and room.

pub(super) struct KeptSeat {
    key: String,
}

impl KeptSeat {
    pub(super) fn new(user: &str, room: &str) -> Self {
        KeptSeat {
            key: crate::early_media::seat_key(user, room),
        }
    }

    /// The token kept by an earlier page of this tab (a reload, or a duplicated tab).
    pub(super) fn token(&self) -> Option<String> {
        session_storage()?.get_item(&self.key).ok().flatten()
    }

    /// Keeps `token`, or forgets the one kept. A full or refused storage only costs the
    /// seat on a reload.
    pub(super) fn keep(&self, token: Option<String>) {
        if let Some(storage) = session_storage() {
            let _ = match token {
                Some(token) => storage.set_item(&self.key, &token),
                None => storage.remove_item(&self.key),
            };
        }
    }
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}
