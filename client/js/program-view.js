// Draws the program by day: times in the event's zone and the viewer's own.
import { h as el } from "./dom.js";
import { countryName, formatDay, formatEventTime, formatTime, pickText, t } from "./i18n.js";

export function renderProgram(container, program) {
  const localTz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  container.replaceChildren();
  for (const day of program.event.days) {
    const section = el("section", { class: "day" });
    section.append(el("h3", {}, formatDay(day)));
    const list = el("ol", { class: "sessions" });
    for (const s of program.sessions.filter((x) => x.day === day)) list.append(sessionItem(s, localTz));
    section.append(list);
    container.append(section);
  }
}

function sessionItem(s, localTz) {
  const item = el("li", { class: `session kind-${s.kind}`, id: `s-${s.id}` });
  const time = el("p", { class: "time" },
    el("time", { datetime: s.starts_at }, `${formatEventTime(s.starts_at)}–${formatEventTime(s.ends_at)}`));
  // The viewer's own time, when it reads differently from the event's.
  const local = formatTime(s.starts_at, localTz);
  if (local !== formatEventTime(s.starts_at)) {
    time.append(" ", el("span", { class: "muted" }, t("program.local_time", { time: local })));
  }
  const head = el("div", { class: "session-head" }, el("span", { class: "kind" }, t(`kind.${s.kind}`)));
  if (s.live) head.append(el("span", { class: "live-badge" }, t("program.live")));
  if (s.viewers > 0) head.append(el("span", { class: "muted" },
    t("program.watching", { count: s.viewers })));
  const title = el("h4", {}, el("a", { href: `/session/${encodeURIComponent(s.id)}` }, pickText(s.title)));
  const speakers = el("ul", { class: "speakers", "aria-label": t("program.speakers") });
  for (const sp of s.speakers) {
    const li = el("li", {}, sp.name);
    if (sp.country) li.append(" ", el("span", { class: "country" }, `(${countryName(sp.country)})`));
    speakers.append(li);
  }
  const ics = el("a", { class: "calendar", href: `/api/sessions/${encodeURIComponent(s.id)}/calendar.ics`,
    download: `${s.id}.ics` }, t("program.calendar"));
  item.append(head, time, title, speakers, ics);
  if (s.room) item.append(el("p", { class: "muted room" }, s.room));
  return item;
}
