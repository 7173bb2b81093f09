// The listing, asked for every second while signed in, and the offline banner.

import { state } from "./state.js";
import { showError, ui } from "./dom.js";
import { syncClock } from "./format.js";
import { api, ApiError } from "./api.js";
import { applyListing } from "./floor.js";
import { signOut } from "./session.js";

const POLL_MS = 1000;

export function setOffline(offline) {
  ui.offline.hidden = !offline;
  document.body.classList.toggle("is-offline", offline);
}

async function refresh(generation) {
  const startedAt = state.epoch;
  try {
    const { data, response } = await api("GET", "v1/visits");
    if (generation !== state.pollGeneration) return;
    syncClock(response);
    setOffline(false);
    applyListing(data, startedAt);
  } catch (error) {
    if (generation !== state.pollGeneration) return;
    if (error instanceof ApiError && error.status === 401) {
      signOut(`Signed out: ${error.message}`);
    } else if (error instanceof ApiError && error.status === 429) {
      // Too fast for the key's rate limit (several tablets on one key): just wait.
    } else if (error instanceof ApiError && error.status < 500) {
      showError(error.message);
    } else {
      setOffline(true);
    }
  }
}

export function startPolling() {
  stopPolling();
  const generation = ++state.pollGeneration;
  const tick = async () => {
    const began = Date.now();
    await refresh(generation);
    if (generation !== state.pollGeneration) return;
    // A steady 1 s rhythm whatever the answer took, so a check-in shows within 2 s.
    state.pollTimer = setTimeout(tick, Math.max(100, POLL_MS - (Date.now() - began)));
  };
  tick();
}

export function stopPolling() {
  state.pollGeneration += 1;
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}
