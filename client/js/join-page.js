// The personal link lands here: keep the token, go to the right session.
import { defaultSession, getProgram, tokenFromFragment } from "./api.js";
import { applyDocument, t } from "./i18n.js";

applyDocument();
const { token, session } = tokenFromFragment();
if (!token) {
  document.getElementById("join-status").textContent = t("join.missing");
} else {
  const target = session ?? defaultSession(await getProgram())?.id;
  location.replace(target ? `/session/${encodeURIComponent(target)}` : "/");
}
