// Times and amounts as the site reads them.

import { state } from "./state.js";

export function syncClock(response) {
  const server = Date.parse(response.headers.get("date") || "");
  if (Number.isNaN(server)) return;
  const offset = server - Date.now();
  // The Date header has whole seconds: ignore the jitter, correct a wrong tablet clock.
  if (Math.abs(offset - state.clockOffsetMs) > 2000) state.clockOffsetMs = offset;
}

export function sinceText(iso) {
  const opened = Date.parse(iso || "");
  if (Number.isNaN(opened)) return "";
  const minutes = Math.max(0, Math.floor((Date.now() + state.clockOffsetMs - opened) / 60000));
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")}`;
}

export function timeText(date, options = {}) {
  return date.toLocaleTimeString(state.locale, { hour: "2-digit", minute: "2-digit", ...options });
}

export function clockText() {
  return timeText(new Date(), { second: "2-digit" });
}

export const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
export const count = new Intl.NumberFormat();
