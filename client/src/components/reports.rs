//! `#reports`: for a moderator (of the chat, or of a room), a "Reports" button and the view it
//! opens: the open reports, each with the reported line, who reported it and why, a button to
//! delete the line for everyone (after a confirmation) and one to close the report; then the
//! newest moderation actions (the audit log: who did what to whom, where, when and why).

use chat_shared::moderation::{Action, AuditEntry, Report};
use leptos::prelude::*;

use crate::service::Chat;
use crate::state::{ChatState, Part};

#[component]
pub fn Reports(chat: Chat) -> impl IntoView {
    let may = move || chat.read(Part::Online, ChatState::has_a_role);
    let open = move || chat.read(Part::Me, |s| s.moderation_log.is_some());
    let reports = move || {
        chat.read(Part::Me, |s| s.moderation_log.as_ref().map(|l| l.reports.clone()).unwrap_or_default())
    };
    let audit = move || {
        chat.read(Part::Me, |s| s.moderation_log.as_ref().map(|l| l.audit.clone()).unwrap_or_default())
    };
    view! {
        <Show when=may>
            <button
                type="button"
                id="open-reports"
                aria-expanded=move || open().to_string()
                aria-controls="reports"
                on:click=move |_| if open() { chat.close_reports() } else { chat.open_reports() }
            >
                {move || chat.t().reports}
            </button>
        </Show>
        <Show when=open>
            <section id="reports" aria-label=move || chat.t().reports>
                <h2>{move || chat.t().reports}</h2>
                <Show when=move || reports().is_empty()>
                    <p class="empty">{move || chat.t().no_reports}</p>
                </Show>
                <ul>
                    <For each=reports key=|r| r.id let:report>
                        {report_item(chat, report)}
                    </For>
                </ul>
                <h3>{move || chat.t().audit_log}</h3>
                <ol class="audit">
                    <For each=audit key=|e| e.id let:entry>
                        {audit_item(chat, entry)}
                    </For>
                </ol>
                <button type="button" id="reports-close" on:click=move |_| chat.close_reports()>
                    {move || chat.t().close}
                </button>
            </section>
        </Show>
    }
}

/// One moderation action: when, who, what, whom, where, why.
fn audit_item(chat: Chat, entry: AuditEntry) -> impl IntoView {
    let lang = chat.lang.get_untracked();
    let place = entry.room.as_ref().map(|r| format!(" # {r}")).unwrap_or_default();
    let reason = (!entry.reason.is_empty())
        .then(|| format!(" — {}", chat.t().reason_is.replace("{reason}", &entry.reason)));
    let detail = (!entry.detail.is_empty()).then(|| format!(" ({})", entry.detail));
    view! {
        <li>
            <time datetime=crate::browser::iso(entry.at)>{crate::browser::full(entry.at, lang)}</time>" "
            <b>{entry.by.clone()}</b>" "<code>{entry.action.clone()}</code>" "{entry.target.clone()}{place}{detail}{reason}
        </li>
    }
}

/// One open report and what a moderator can do about it.
fn report_item(chat: Chat, report: Report) -> impl IntoView {
    let t = chat.t();
    let (id, line_id, room) = (report.id, report.line_id, report.room.clone());
    let delete = move |_| {
        if window().confirm_with_message(chat.t().delete_confirm).unwrap_or(false) {
            let reason = String::new();
            chat.moderate(Action::Delete { room: Some(room.clone()), id: line_id, reason });
            chat.moderate(Action::CloseReport { id });
        }
    };
    let by = t.reported_by.replace("{nick}", &report.by);
    let reason = (!report.reason.is_empty()).then(|| t.reason_is.replace("{reason}", &report.reason));
    view! {
        <li class="report" data-report=id.to_string()>
            <p class="reported-line">
                <span class="where">{format!("# {}", report.room)}</span>" "
                <b class="from">{report.from.clone()}</b>" "<span class="text">{report.text.clone()}</span>
            </p>
            <p class="why">{by}{reason.map(|r| format!(" — {r}"))}</p>
            <button type="button" class="delete" on:click=delete>{t.delete_line}</button>
            <button type="button" class="close-report" on:click=move |_| chat.moderate(Action::CloseReport { id })>
                {t.close_report}
            </button>
        </li>
    }
}
