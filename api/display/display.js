// tierline staff display: open visits as cards, live, with the staff actions.
//
// Plain browser JavaScript as ES modules, no build step, loaded under a CSP without
// 'unsafe-inline'. This module wires the page's own controls and starts the board.
//
// The modules call each other (signing out reaches into every part, and any part may sign
// out on a 401), but only from events and timers: while loading they only define things,
// so the import cycles among them are safe.

import { state } from "./state.js";
import { clearError, ui } from "./dom.js";
import { afterRender } from "./floor.js";
import { startPolling } from "./polling.js";
import { showView } from "./manager.js";
import { resume, signIn, signOut } from "./session.js";
import { issuePairingCode, pairIn } from "./pairing.js";
ui.signinForm.addEventListener("submit", signIn);
ui.pairForm.addEventListener("submit", pairIn);
ui.pairTablet.addEventListener("click", issuePairingCode);
ui.signOut.addEventListener("click", () => signOut(""));
ui.errorDismiss.addEventListener("click", clearError);
ui.tabFloor.addEventListener("click", () => showView("floor"));
ui.tabManager.addEventListener("click", () => showView("manager"));
ui.tabs.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
  const next = state.view === "floor" ? "manager" : "floor";
  showView(next);
  (next === "floor" ? ui.tabFloor : ui.tabManager).focus();
});
ui.lookup.addEventListener("input", () => {
  const digits = ui.lookup.value.replace(/\D/g, "");
  state.lookup = digits;
  afterRender();
});
ui.lookupForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const found = afterRender();
  if (found) {
    found.root.scrollIntoView({ block: "center", behavior: "smooth" });
    found.root.focus({ preventScroll: true });
  }
});
document.addEventListener("keydown", (event) => {
  // "/" jumps to the ticket search, as on many boards; not while typing elsewhere.
  const typing = event.target.closest && event.target.closest("input, select, textarea");
  if (event.key === "/" && !typing && !ui.floor.hidden) {
    event.preventDefault();
    ui.lookup.focus();
  }
});
// Browsers slow timers in a hidden tab; catch up at once when the tablet wakes.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.key) startPolling();
});

resume();
