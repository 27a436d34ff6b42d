//! The page's monotonic clock, as the call's state machine counts time
//! ([`crate::mesh::Millis`]): `performance.now()`, which never goes back (the wall clock
//! can, when the computer corrects its time).

use crate::mesh::Millis;

/// Now, on the page's clock.
pub fn now() -> Millis {
    let ms = web_sys::window()
        .and_then(|window| window.performance())
        .map_or_else(js_sys::Date::now, |performance| performance.now());
    Millis::from_ms(ms)
}
