// Calls to the tierline API with the staff key.

import { state } from "./state.js";

// Longer than a healthy answer on a loaded tablet, short enough that a hung server shows
// the offline banner within a few seconds.
const FETCH_TIMEOUT_MS = 4000;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export class NetworkError extends Error {}

// One call with the staff key in the X-API-Key header (never in the URL, so it stays out
// of access logs and history). Resolves to {data, response}; throws ApiError with the
// API's own message, or NetworkError when there was no answer in time.
export async function api(method, path, { body, idempotencyKey } = {}) {
  const headers = { "X-API-Key": state.key || "", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        signal: abort.signal,
      });
    } catch (error) {
      throw new NetworkError(String(error && error.message ? error.message : error));
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      if (abort.signal.aborted) throw new NetworkError("The answer stopped half-way");
    }
    if (!response.ok) {
      const e = data && typeof data === "object" ? data.error : null;
      throw new ApiError(
        response.status,
        (e && e.code) || `http_${response.status}`,
        (e && e.message) || `tierline answered ${response.status}`,
        e ? e.details : null,
      );
    }
    return { data, response };
  } finally {
    clearTimeout(timer);
  }
}
