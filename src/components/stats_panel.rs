use crate::call_state::CallState;
use crate::components::person_picker::PersonPicker;
use crate::components::words;
use crate::i18n::*;
use crate::stats::{format_bitrate, sparkline};
use leptos::prelude::*;

const SPARK_W: f64 = 160.0;
const SPARK_H: f64 = 28.0;

/// Live figures for the connection, refreshed every second, with the last minute of
/// bitrate and round-trip time drawn as lines: a trend is read faster than a column.
#[component]
pub fn StatsPanel(call: CallState) -> AnyView {
    let i18n = use_i18n();
    let stats = call.stats;
    let value = move |f: fn(&crate::stats::CallStats) -> String| {
        move || stats.with(|s| s.as_ref().map(f).unwrap_or_else(|| "–".into()))
    };
    let line = move |pick: fn(&crate::stats::History) -> &std::collections::VecDeque<f64>| {
        move || {
            call.stats_history
                .with(|h| sparkline(pick(h), SPARK_W, SPARK_H))
        }
    };
    view! {
        <section class="stats" aria-label=move || td_string!(i18n.get_locale(), controls.stats_label)>
            // With two or more others, pick whose connection to show.
            <PersonPicker call class="stats-of" label=move || td_string!(i18n.get_locale(), controls.stats_of) picked=call.stats_of/>
            <dl>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_receiving)}</dt>
                <dd data-kbps=move || stats.with(|s| s.as_ref().map(|s| s.receive_kbps.round()))>
                    {value(|s| format_bitrate(s.receive_kbps))}
                </dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_sending)}</dt>
                <dd>{value(|s| format_bitrate(s.send_kbps))}</dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_round_trip)}</dt>
                <dd>{value(|s| s.rtt_ms.map(|ms| format!("{ms:.0} ms")).unwrap_or_else(|| "–".into()))}</dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_loss)}</dt>
                <dd>{value(|s| format!("{:.1} %", s.loss_percent))}</dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_video)}</dt>
                <dd>
                    {move || {
                        let locale = i18n.get_locale();
                        stats.with(|s| s.as_ref().map(|s| video_said(locale, s)).unwrap_or_else(|| "–".into()))
                    }}
                </dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_path)}</dt>
                <dd>
                    {move || {
                        let locale = i18n.get_locale();
                        stats.with(|s| {
                            s.as_ref()
                                .and_then(|s| s.path.as_ref())
                                .map_or_else(|| "–".into(), |p| words::path(locale, p))
                        })
                    }}
                </dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_you_send)}</dt>
                <dd class="sending">
                    {move || {
                        let locale = i18n.get_locale();
                        call.sending.with(|s| s.as_ref().map_or_else(|| "–".into(), |s| words::sending(locale, s)))
                    }}
                </dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_budget)}</dt>
                <dd class="budget" data-bps=move || call.upload_budget.get().to_string()>
                    {move || format_bitrate(call.upload_budget.get() as f64 / 1000.0)}
                </dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_sound)}</dt>
                <dd class="sound">{move || call.sound_applied.get().map(|applied| sound_said(i18n.get_locale(), applied)).unwrap_or_else(|| "–".into())}</dd>
                <dt>{move || td_string!(i18n.get_locale(), controls.stats_upload)}</dt>
                <dd class="upload">
                    {move || call.upload_kbps.get().map(format_bitrate).unwrap_or_else(|| "–".into())}
                </dd>
            </dl>
            <Sparkline
                caption=|locale| td_string!(locale, controls.stats_bitrate_caption)
                class="bitrate"
                points=Signal::derive(line(|h| &h.receive_kbps))
            />
            <Sparkline
                caption=|locale| td_string!(locale, controls.stats_rtt_caption)
                class="rtt"
                points=Signal::derive(line(|h| &h.rtt_ms))
            />
        </section>
    }
    .into_any()
}

/// The video received: "640×360 at 30 fps", or the size alone.
fn video_said(locale: Locale, stats: &crate::stats::CallStats) -> String {
    match (stats.frame, stats.fps) {
        (Some((w, h)), Some(fps)) => {
            let frame = format!("{w}×{h}");
            let fps = format!("{fps:.0}");
            td_string!(locale, controls.stats_frame_rate, frame, fps).to_string()
        }
        (Some((w, h)), None) => format!("{w}×{h}"),
        _ => "–".into(),
    }
}

/// What the browser applies to the microphone, e.g. "Noise suppression off, echo
/// cancellation on, automatic gain on".
fn sound_said(locale: Locale, applied: crate::call_state::SoundApplied) -> String {
    let state = |on: Option<bool>| match on {
        Some(true) => td_string!(locale, controls.sound_on),
        Some(false) => td_string!(locale, controls.sound_off),
        None => td_string!(locale, controls.sound_unknown),
    };
    td_string!(
        locale,
        controls.stats_sound_applied,
        noise = state(applied.noise_suppression),
        echo = state(applied.echo_cancellation),
        gain = state(applied.auto_gain)
    )
    .to_string()
}

/// One minute of a figure as a line.
#[component]
fn Sparkline(
    /// What the line shows, in a language.
    caption: fn(Locale) -> &'static str,
    class: &'static str,
    points: Signal<String>,
) -> AnyView {
    let i18n = use_i18n();
    let caption = move || caption(i18n.get_locale());
    view! {
        <figure class="spark">
            <figcaption>{caption}</figcaption>
            <svg viewBox=format!("0 0 {SPARK_W} {SPARK_H}") role="img" aria-label=caption>
                <polyline class=class points=move || points.get()></polyline>
            </svg>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call_state::SoundApplied;

    #[test]
    fn the_sound_applied_is_said_in_one_sentence() {
        let applied = SoundApplied {
            noise_suppression: Some(false),
            echo_cancellation: Some(true),
            auto_gain: None,
        };
        assert_eq!(
            sound_said(Locale::en_GB, applied),
            "Noise suppression off, echo cancellation on, automatic gain not reported"
        );
        assert_eq!(
            sound_said(Locale::es, applied),
            "Supresión de ruido desactivada, cancelación de eco activada, ganancia automática sin datos"
        );
    }
}
