// Pairing: a manager issues a one-time code, a fresh tablet signs in with it.

import { state } from "./state.js";
import { clearError, setText, showError, ui } from "./dom.js";
import { timeText } from "./format.js";
import { api } from "./api.js";
import { enter, failure } from "./session.js";

// A pairing code is spent on a staff key of its own; the tablet then signs in with it.
export async function pairIn(event) {
  event.preventDefault();
  const code = ui.pairInput.value.trim();
  if (!code) {
    showError("Type the pairing code first");
    ui.pairInput.focus();
    return;
  }
  ui.pairButton.disabled = true;
  clearError();
  try {
    const { data } = await api("POST", "v1/pairing/redeem", { body: { code } });
    await enter(data.key, ui.pairInput);
  } catch (error) {
    showError(failure(error));
    ui.pairInput.focus();
    ui.pairInput.select();
  } finally {
    ui.pairButton.disabled = false;
  }
}

export function hidePairingCode() {
  clearTimeout(state.pairingTimer);
  state.pairingTimer = null;
  setText(ui.pairingCode, "");
  ui.pairingCode.hidden = true;
}

export async function issuePairingCode() {
  const session = state.session;
  ui.pairTablet.disabled = true;
  try {
    const { data } = await api("POST", "v1/pairing", { body: { minutes: 10 } });
    if (session !== state.session) return;
    hidePairingCode();
    setText(ui.pairingCode, data.code);
    ui.pairingCode.hidden = false;
    const expires = new Date(data.expires_at);
    const until = timeText(expires);
    setText(ui.pairingExpiry, `Works once, until ${until}. Issue another for each tablet.`);
    ui.pairingExpiry.hidden = false;
    state.pairingTimer = setTimeout(() => {
      hidePairingCode();
      setText(ui.pairingExpiry, "That code has expired; issue a new one.");
    }, Math.max(0, expires.getTime() - Date.now()));
  } catch (error) {
    if (session === state.session) showError(failure(error));
  } finally {
    ui.pairTablet.disabled = false;
  }
}
