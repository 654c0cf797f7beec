// What the interaction views share: an element builder that only ever sets
// text (never HTML), their strings in three languages, and their stylesheet.
import { lang } from "./i18n.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function ensureStyles() {
  if (document.querySelector('link[href="/css/interaction.css"]')) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/css/interaction.css" }));
}

const STRINGS = {
  en: {
    "console.session": "Session", "console.state": "State", "console.open": "Open",
    "console.close": "Close", "console.qa": "Q&A", "console.moderated": "Moderated",
    "console.qa_open": "Open", "console.slow": "Slow mode", "console.off": "off",
    "console.scope": "Sanctions apply to the whole event", "console.pending": "Pending",
    "console.questions": "Questions", "console.chat": "Chat", "console.people": "People",
    "console.online": "Online", "console.sanctions": "Mutes and bans",
    "console.need_token": "Open the moderator link you received (…#token=…).",
    "error.forbidden": "Your role does not allow this.",
    send: "Send", say: "Write a message", ask: "Ask", your_question: "Your question",
    anonymous: "Ask anonymously", anonymous_author: "Anonymous", by_votes: "Top",
    by_time: "Newest", vote: "Upvote", votes: "{n} votes", now: "Now answering",
    pending: "Awaiting moderation", answered: "Answered", watching: "{n} watching",
    peak: "peak {n}", delete: "Delete", mute: "Mute", ban: "Ban", unmute: "Unmute",
    unban: "Lift ban", approve: "Approve", reject: "Reject", answer: "Answered",
    highlight: "Highlight", unhighlight: "Stop highlighting", no_questions: "No questions yet.",
    closed: "This session is closed: chat and questions are read-only.",
    slow: "Slow mode: one message every {n} s.",
    "error.rate_limited": "Too fast, wait a moment.",
    "error.slow_mode": "Slow mode is on, wait a moment.",
    "error.muted": "A moderator muted you in this session.",
    "error.banned": "You were removed from this session.",
    "error.too_long": "Too long (at most {max} characters).",
    "error.empty": "Write something first.",
    "error.session_closed": "This session is closed.",
    "error.timeout": "No answer from the server, try again.",
    "error.other": "Refused ({code}).",
  },
  fr: {
    "console.session": "Session", "console.state": "État", "console.open": "Ouvrir",
    "console.close": "Clore", "console.qa": "Questions", "console.moderated": "Modérées",
    "console.qa_open": "Libres", "console.slow": "Mode lent", "console.off": "désactivé",
    "console.scope": "Les sanctions valent pour tout l'événement", "console.pending": "En attente",
    "console.questions": "Questions", "console.chat": "Discussion", "console.people": "Personnes",
    "console.online": "En ligne", "console.sanctions": "Muets et exclus",
    "console.need_token": "Ouvrez le lien de modération reçu (…#token=…).",
    "error.forbidden": "Votre rôle ne le permet pas.",
    send: "Envoyer", say: "Écrire un message", ask: "Poser", your_question: "Votre question",
    anonymous: "Poser anonymement", anonymous_author: "Anonyme", by_votes: "Populaires",
    by_time: "Récentes", vote: "Soutenir", votes: "{n} votes", now: "En cours de réponse",
    pending: "En attente de modération", answered: "Répondue", watching: "{n} spectateurs",
    peak: "max {n}", delete: "Supprimer", mute: "Rendre muet", ban: "Exclure",
    unmute: "Rendre la parole", unban: "Lever l'exclusion", approve: "Approuver",
    reject: "Rejeter", answer: "Répondue", highlight: "Mettre en avant",
    unhighlight: "Retirer la mise en avant", no_questions: "Pas encore de questions.",
    closed: "Session close : discussion et questions en lecture seule.",
    slow: "Mode lent : un message toutes les {n} s.",
    "error.rate_limited": "Trop rapide, patientez un instant.",
    "error.slow_mode": "Mode lent activé, patientez un instant.",
    "error.muted": "Un modérateur vous a rendu muet dans cette session.",
    "error.banned": "Vous avez été exclu de cette session.",
    "error.too_long": "Trop long ({max} caractères au plus).",
    "error.empty": "Écrivez d'abord quelque chose.",
    "error.session_closed": "Cette session est close.",
    "error.timeout": "Pas de réponse du serveur, réessayez.",
    "error.other": "Refusé ({code}).",
  },
  ar: {
    "console.session": "الجلسة", "console.state": "الحالة", "console.open": "فتح",
    "console.close": "إغلاق", "console.qa": "الأسئلة", "console.moderated": "بإشراف",
    "console.qa_open": "مفتوحة", "console.slow": "الوضع البطيء", "console.off": "معطل",
    "console.scope": "العقوبات تشمل الحدث كله", "console.pending": "في الانتظار",
    "console.questions": "الأسئلة", "console.chat": "المحادثة", "console.people": "الحاضرون",
    "console.online": "متصلون الآن", "console.sanctions": "المكتومون والمطرودون",
    "console.need_token": "افتح رابط الإشراف الذي تلقيته (…#token=…).",
    "error.forbidden": "دورك لا يسمح بهذا.",
    send: "إرسال", say: "اكتب رسالة", ask: "اسأل", your_question: "سؤالك",
    anonymous: "اسأل دون ذكر اسمك", anonymous_author: "مجهول", by_votes: "الأكثر تأييدا",
    by_time: "الأحدث", vote: "تأييد", votes: "{n} أصوات", now: "تجري الإجابة الآن",
    pending: "في انتظار الإشراف", answered: "أجيب عنه", watching: "{n} مشاهد",
    peak: "الذروة {n}", delete: "حذف", mute: "كتم", ban: "طرد", unmute: "إلغاء الكتم",
    unban: "إلغاء الطرد", approve: "قبول", reject: "رفض", answer: "أجيب عنه",
    highlight: "إبراز", unhighlight: "إلغاء الإبراز", no_questions: "لا أسئلة بعد.",
    closed: "الجلسة مغلقة: المحادثة والأسئلة للقراءة فقط.",
    slow: "الوضع البطيء: رسالة كل {n} ثانية.",
    "error.rate_limited": "بسرعة كبيرة، انتظر قليلا.",
    "error.slow_mode": "الوضع البطيء مفعل، انتظر قليلا.",
    "error.muted": "كتمك أحد المشرفين في هذه الجلسة.",
    "error.banned": "تم إخراجك من هذه الجلسة.",
    "error.too_long": "طويل جدا ({max} حرفا على الأكثر).",
    "error.empty": "اكتب شيئا أولا.",
    "error.session_closed": "هذه الجلسة مغلقة.",
    "error.timeout": "لا رد من الخادم، حاول مرة أخرى.",
    "error.other": "مرفوض ({code}).",
  },
};

export function tr(key, vars = {}) {
  const text = STRINGS[lang()]?.[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

export function errorText(reply) {
  const code = reply?.error ?? "timeout";
  const key = `error.${code}`;
  return STRINGS.en[key] ? tr(key, reply) : tr("error.other", { code });
}

export function timeOf(iso) {
  try {
    return new Intl.DateTimeFormat(lang(), { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  } catch {
    return "";
  }
}
