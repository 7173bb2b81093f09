// Signing in with a key, showing the board, and signing out.

import { cards, state } from "./state.js";
import { clearError, setText, showError, ui } from "./dom.js";
import { syncClock } from "./format.js";
import { api, ApiError } from "./api.js";
import { intentKeys } from "./actions.js";
import { applyListing, removeCard } from "./floor.js";
import { setOffline, startPolling, stopPolling } from "./polling.js";
import { showView } from "./manager.js";
import { hidePairingCode } from "./pairing.js";

const KEY_STORE = "tierline.staffKey";

function showBoard() {
  ui.signin.hidden = true;
  ui.signOut.hidden = false;
  showView(state.view === "manager" && state.role === "admin" ? "manager" : "floor");
}

export function signOut(message) {
  state.session += 1;
  stopPolling();
  clearInterval(state.reportTimer);
  state.reportTimer = null;
  clearInterval(state.driftTimer);
  state.driftTimer = null;
  clearInterval(state.upliftTimer);
  state.upliftTimer = null;
  sessionStorage.removeItem(KEY_STORE);
  hidePairingCode();
  ui.pairingExpiry.hidden = true;
  Object.assign(state, {
    key: null, role: null, site: null, view: "floor", lookup: "", filter: "all",
    locale: undefined, sourceChips: false,
  });
  state.tiers = new Map();
  state.tiersSig = "";
  state.closed.clear();
  intentKeys.clear();
  for (const card of [...cards.values()]) removeCard(card, false);
  ui.lookup.value = "";
  ui.filters.replaceChildren();
  setText(ui.site, "");
  setText(ui.updated, "");
  ui.tabs.hidden = true;
  ui.floor.hidden = true;
  ui.manager.hidden = true;
  ui.signOut.hidden = true;
  ui.degraded.hidden = true;
  setOffline(false);
  ui.signin.hidden = false;
  ui.success.hidden = true;
  if (message) showError(message);
  else clearError();
  ui.keyInput.focus();
}

export async function signIn(event) {
  event.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    showError("Type your staff key first");
    ui.keyInput.focus();
    return;
  }
  ui.signInButton.disabled = true;
  clearError();
  try {
    await enter(key, ui.keyInput);
  } finally {
    ui.signInButton.disabled = false;
  }
}

// Open the board with `key` if the API takes it; else the API's message, back in `input`.
export async function enter(key, input) {
  state.session += 1;
  state.key = key;
  const startedAt = state.epoch;
  try {
    const { data, response } = await api("GET", "v1/visits");
    sessionStorage.setItem(KEY_STORE, key);
    input.value = "";
    syncClock(response);
    applyListing(data, startedAt);
    showBoard();
    startPolling();
  } catch (error) {
    state.key = null;
    showError(failure(error));
    input.focus();
    input.select();
  }
}

export function failure(error) {
  return error instanceof ApiError
    ? error.message
    : "Could not reach tierline; check the network and try again";
}

// A reload keeps the tab signed in: the key stays in session storage until sign-out.
export function resume() {
  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) {
    state.key = saved;
    ui.signin.hidden = true;
    showBoard();
    startPolling();
  } else {
    ui.keyInput.focus();
  }
}
