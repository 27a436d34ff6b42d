use crate::call_state::CallState;
use crate::components::person_picker::PersonPicker;
use crate::stats::{format_bitrate, sparkline};
use leptos::prelude::*;

const SPARK_W: f64 = 160.0;
const SPARK_H: f64 = 28.0;

/// Live figures for the connection, refreshed every second, with the last minute of
/// bitrate and round-trip time drawn as lines: a trend is read faster than a column.
#[component]
pub fn StatsPanel(call: CallState) -> AnyView {
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
        <section class="stats" aria-label="Call statistics">
            // With two or more others, pick whose connection to show.
            <PersonPicker call class="stats-of" label="Connection to" picked=call.stats_of/>
            <dl>
                <dt>"Receiving"</dt>
                <dd data-kbps=move || stats.with(|s| s.as_ref().map(|s| s.receive_kbps.round()))>
                    {value(|s| format_bitrate(s.receive_kbps))}
                </dd>
                <dt>"Sending"</dt>
                <dd>{value(|s| format_bitrate(s.send_kbps))}</dd>
                <dt>"Round trip"</dt>
                <dd>{value(|s| s.rtt_ms.map(|ms| format!("{ms:.0} ms")).unwrap_or_else(|| "–".into()))}</dd>
                <dt>"Packet loss"</dt>
                <dd>{value(|s| format!("{:.1} %", s.loss_percent))}</dd>
                <dt>"Video"</dt>
                <dd>
                    {value(|s| match (s.frame, s.fps) {
                        (Some((w, h)), Some(fps)) => format!("{w}×{h} at {fps:.0} fps"),
                        (Some((w, h)), None) => format!("{w}×{h}"),
                        _ => "–".into(),
                    })}
                </dd>
                <dt>"Path"</dt>
                <dd>{value(|s| s.path.clone().unwrap_or_else(|| "–".into()))}</dd>
                <dt>"You send"</dt>
                <dd class="sending">{move || call.sending.get().unwrap_or_else(|| "–".into())}</dd>
                <dt>"Upload budget"</dt>
                <dd class="budget" data-bps=move || call.upload_budget.get().to_string()>
                    {move || format_bitrate(call.upload_budget.get() as f64 / 1000.0)}
                </dd>
                <dt>"Sound"</dt>
                <dd class="sound">{move || call.sound_applied.get().map(sound_said).unwrap_or_else(|| "–".into())}</dd>
                <dt>"Upload in all"</dt>
                <dd class="upload">
                    {move || call.upload_kbps.get().map(format_bitrate).unwrap_or_else(|| "–".into())}
                </dd>
            </dl>
            <Sparkline
                caption="Receive bitrate, last minute"
                class="bitrate"
                points=Signal::derive(line(|h| &h.receive_kbps))
            />
            <Sparkline
                caption="Round-trip time, last minute"
                class="rtt"
                points=Signal::derive(line(|h| &h.rtt_ms))
            />
        </section>
    }
    .into_any()
}

/// What the browser applies to the microphone, e.g. "noise suppression off, echo
/// cancellation on, automatic gain on".
fn sound_said(applied: crate::call_state::SoundApplied) -> String {
    let said = |what: &str, on: Option<bool>| match on {
        Some(true) => format!("{what} on"),
        Some(false) => format!("{what} off"),
        None => format!("{what} not reported"),
    };
    let parts = [
        said("noise suppression", applied.noise_suppression),
        said("echo cancellation", applied.echo_cancellation),
        said("automatic gain", applied.auto_gain),
    ];
    let text = parts.join(", ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One minute of a figure as a line.
#[component]
fn Sparkline(caption: &'static str, class: &'static str, points: Signal<String>) -> AnyView {
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
