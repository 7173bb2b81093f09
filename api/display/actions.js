// What staff do to a visit (mark a cue, close, change the tier), each posted once.

import { state } from "./state.js";
import { clearError, showError, showSuccess } from "./dom.js";
import { tierInfo } from "./tiers.js";
import { money } from "./format.js";
import { api, ApiError, NetworkError } from "./api.js";
import { cueMark, updateCard } from "./card.js";
import { afterRender, removeCard } from "./floor.js";
import { signOut } from "./session.js";

// Retries of one action after a lost connection; they reuse its Idempotency-Key.
const RETRY_DELAYS_MS = [400, 1200];

// crypto.randomUUID exists only in secure contexts, and a tablet on the restaurant's LAN
// reaches the API over plain http; getRandomValues works everywhere.
function newIdempotencyKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "display-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Actions in flight, and the Idempotency-Key of each intended action that has not had a
// definite answer yet: a second tap after a lost connection sends the same key, so the
// server records the action once however many times it arrives.
const inFlight = new Set();
export const intentKeys = new Map();

function forgetIntents(prefix) {
  for (const intent of [...intentKeys.keys()]) if (intent.startsWith(prefix)) intentKeys.delete(intent);
}

async function act({ intent, buttons, method, path, body }) {
  if (inFlight.has(intent)) return null;
  const session = state.session;
  inFlight.add(intent);
  if (!intentKeys.has(intent)) intentKeys.set(intent, newIdempotencyKey());
  const idempotencyKey = intentKeys.get(intent);
  for (const b of buttons) {
    b.disabled = true;
    b.setAttribute("aria-busy", "true");
  }
  clearError();
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { data } = await api(method, path, { body, idempotencyKey });
        if (session !== state.session) return null;
        intentKeys.delete(intent);
        state.epoch += 1;
        return data;
      } catch (error) {
        if (session !== state.session) return null;
        const retriable =
          error instanceof NetworkError || (error instanceof ApiError && error.status >= 500);
        if (retriable && attempt < RETRY_DELAYS_MS.length) {
          await sleep(RETRY_DELAYS_MS[attempt]);
          continue;
        }
        if (error instanceof ApiError) {
          if (error.status < 500) intentKeys.delete(intent);
          if (error.status === 401) {
            signOut(`Signed out: ${error.message}`);
            return null;
          }
          showError(error.message);
        } else {
          showError("Could not reach tierline. Tap again to retry; it will not be recorded twice.");
        }
        return null;
      }
    }
  } finally {
    inFlight.delete(intent);
    for (const b of buttons) {
      b.disabled = false;
      b.removeAttribute("aria-busy");
    }
  }
}

export async function markCue(card, entry, mark) {
  const view = card.view;
  if (!view || cueMark(view, entry.cue.code) === mark) return; // already so: nothing to post
  const code = entry.cue.code;
  const data = await act({
    intent: `cue:${view.decision_id}:${code}:${mark}`,
    buttons: [entry.accept, entry.decline],
    method: "POST",
    path: "v1/outcomes",
    body: { decision_id: view.decision_id, [mark]: [code] },
  });
  if (!data) return;
  // Any earlier unanswered tap on this cue is superseded by this answered one.
  forgetIntents(`cue:${view.decision_id}:${code}:`);
  const other = mark === "accepted" ? "declined" : "accepted";
  const next = {
    ...card.view,
    [mark]: [...new Set([...(card.view[mark] || []), code])].sort(),
    [other]: (card.view[other] || []).filter((c) => c !== code),
  };
  card.touchedAt = state.epoch;
  updateCard(card, next);
  showSuccess(`Ticket ${view.ticket}: “${entry.cue.text}” ${mark}`);
}

function parseSpend(raw) {
  const text = String(raw || "").trim().replace(",", ".");
  if (!/^\d{1,7}(\.\d{1,2})?$/.test(text)) return null;
  return Number(text);
}

export async function closeVisit(card) {
  const view = card.view;
  const spend = parseSpend(card.spend.value);
  if (spend === null) {
    showError(`Ticket ${view.ticket}: enter what the party spent, e.g. 84.50`);
    card.spend.focus();
    return;
  }
  const data = await act({
    intent: `close:${view.decision_id}:${spend}`,
    buttons: [card.closeButton],
    method: "POST",
    path: `v1/visits/${encodeURIComponent(view.ticket)}/close`,
    body: { spend },
  });
  if (!data) return;
  state.closed.set(view.decision_id, state.epoch);
  removeCard(card, true);
  afterRender();
  showSuccess(`Ticket ${view.ticket} closed · ${money.format(spend)}`);
}

export async function overrideTier(card) {
  const view = card.view;
  const tier = card.overrideSelect.value;
  const reason = card.overrideReason.value.trim();
  if (!tier) {
    showError(`Ticket ${view.ticket}: choose the new tier`);
    card.overrideSelect.focus();
    return;
  }
  if (!reason) {
    showError(`Ticket ${view.ticket}: a reason is required to change the tier`);
    card.overrideReason.focus();
    return;
  }
  const data = await act({
    intent: `override:${view.decision_id}:${tier}:${reason}`,
    buttons: [card.overrideSave],
    method: "POST",
    path: `v1/visits/${encodeURIComponent(view.ticket)}/override`,
    body: { tier, reason },
  });
  if (!data) return;
  card.overrideReason.value = "";
  card.overrideSelect.value = "";
  card.closeOverride();
  card.touchedAt = state.epoch;
  updateCard(card, data);
  afterRender();
  card.overrideToggle.focus();
  showSuccess(`Ticket ${view.ticket} is now ${tierInfo(tier).label}`);
}
