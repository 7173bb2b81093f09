// tierline staff display: open visits as cards, live, with the staff actions.
//
// Plain browser JavaScript, no build step, loaded under a CSP without 'unsafe-inline'.
// Every value that came from a customer or a member of staff is written with textContent
// or setAttribute, never parsed as HTML, so markup in a signal shows as text.
"use strict";

(() => {
  const KEY_STORE = "tierline.staffKey";
  const POLL_MS = 1000;
  // Longer than a healthy answer on a loaded tablet, short enough that a hung server shows
  // the offline banner within a few seconds.
  const FETCH_TIMEOUT_MS = 4000;
  const REPORT_MS = 5000;
  // Drift reads every logged decision to find the week's (the log has no time index),
  // so it refreshes far less often than today's figures.
  const DRIFT_MS = 600000;
  // The uplift reads the site's whole decision log and its figures move slowly.
  const UPLIFT_MS = 300000;
  const SUCCESS_MS = 2500;
  // Retries of one action after a lost connection; they reuse its Idempotency-Key.
  const RETRY_DELAYS_MS = [400, 1200];
  const FALLBACK_COLOR = "#4a5160";
  const SOURCE_FIELDS = [
    ["campaign", "Campaign"],
    ["landing_page", "Page"],
    ["channel", "Channel"],
    ["utm_source", "Source"],
    ["utm_medium", "Medium"],
    ["referrer", "Referrer"],
  ];

  const $ = (id) => document.getElementById(id);
  const ui = {
    signin: $("signin"),
    signinForm: $("signin-form"),
    keyInput: $("key-input"),
    signInButton: $("sign-in"),
    pairForm: $("pair-form"),
    pairInput: $("pair-input"),
    pairButton: $("pair-in"),
    pairTablet: $("pair-tablet"),
    pairingCode: $("pairing-code"),
    pairingExpiry: $("pairing-expiry"),
    signOut: $("sign-out"),
    site: $("site-name"),
    updated: $("updated"),
    tabs: $("tabs"),
    tabFloor: $("tab-floor"),
    tabManager: $("tab-manager"),
    floor: $("floor"),
    manager: $("manager"),
    offline: $("offline-banner"),
    degraded: $("degraded-banner"),
    errorBox: $("error-box"),
    error: $("error-message"),
    errorDismiss: $("error-dismiss"),
    success: $("success-message"),
    lookupForm: $("lookup-form"),
    lookup: $("lookup"),
    filters: $("filters"),
    empty: $("empty-state"),
    grid: $("grid"),
  };

  const state = {
    key: null,
    role: null,
    site: null,
    tiers: new Map(), // tier -> {tier, label, color, shape}
    tiersSig: "",
    filter: "all",
    lookup: "",
    view: "floor",
    items: [],
    clockOffsetMs: 0, // server clock minus ours, so "minutes since check-in" is right
    pollGeneration: 0,
    pollTimer: null,
    reportTimer: null,
    driftTimer: null,
    upliftTimer: null,
    pairingTimer: null, // hides the manager's pairing code when it expires
    perkTexts: new Map(), // perk -> its playbook text, from the day report
    // The listing's display settings: the site's locale (undefined: the browser's own) and
    // whether cards name where a guest came from (the playbook's [display] source_chips).
    locale: undefined,
    sourceChips: false,
    // Bumped by every action that changes a visit, so a listing that was already on its
    // way when the action landed does not paint the old state back for a second.
    epoch: 0,
    // Bumped at every sign-in and sign-out: an answer that arrives after the staff member
    // signed out (or in again with another key) is dropped, not painted or reported.
    session: 0,
    closed: new Map(), // decision_id -> epoch it was closed at (kept until a listing agrees)
  };

  const cards = new Map(); // decision_id -> card (a visit's identity; tickets are reused)

  // -- small DOM helpers -------------------------------------------------------------------

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "class") node.className = value;
      else if (name === "testid") node.dataset.testid = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function setText(node, text) {
    const value = text == null ? "" : String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  const SVG = "http://www.w3.org/2000/svg";
  const SHAPES = {
    star: [
      "polygon",
      { points: "12,1.5 15.1,8.3 22.5,9.1 17,14.1 18.5,21.4 12,17.7 5.5,21.4 7,14.1 1.5,9.1 8.9,8.3" },
    ],
    circle: ["circle", { cx: 12, cy: 12, r: 9.5 }],
    square: ["rect", { x: 3, y: 3, width: 18, height: 18, rx: 1.5 }],
    triangle: ["polygon", { points: "12,2.5 22.5,21 1.5,21" }],
    diamond: ["polygon", { points: "12,1.5 22.5,12 12,22.5 1.5,12" }],
    hexagon: ["polygon", { points: "12,1.5 21.5,7 21.5,17 12,22.5 2.5,17 2.5,7" }],
    heart: ["path", { d: "M12 21.5 2.8 12.6a5.6 5.6 0 0 1 8-7.9L12 5.9l1.2-1.2a5.6 5.6 0 0 1 8 7.9Z" }],
  };

  // The tier's shape as a small inline SVG drawn in the current text colour, so a tier is
  // never told apart by colour alone. An unknown shape name gets a ring, not a blank.
  function shapeIcon(shape) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "shape");
    const ring = ["circle", { cx: 12, cy: 12, r: 8, "stroke-width": 3, fill: "none" }];
    const [tag, attrs] = SHAPES[shape] || ring;
    const part = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) part.setAttribute(name, String(value));
    if (!SHAPES[shape]) part.setAttribute("stroke", "currentColor");
    else part.setAttribute("fill", "currentColor");
    svg.append(part);
    return svg;
  }

  // -- colour and contrast (WCAG 2.x) ------------------------------------------------------

  function parseHex(color) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(color || "").trim());
    if (!m) return null;
    let hex = m[1];
    if (hex.length === 3) hex = [...hex].map((c) => c + c).join("");
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }

  function luminance([r, g, b]) {
    const lin = (c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  }

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  const WHITE = [255, 255, 255];
  const INK = [17, 20, 24]; // near-black: softer than #000, still > 18:1 on white

  // The tier colour as given if it is a plain hex colour (anything else could smuggle CSS),
  // and whichever of white or near-black reads better on it (>= 4.5:1 for any colour).
  function tierColors(color) {
    const rgb = parseHex(color) || parseHex(FALLBACK_COLOR);
    const ink = contrast(WHITE, rgb) >= contrast(INK, rgb) ? WHITE : INK;
    return { background: `rgb(${rgb.join(", ")})`, text: `rgb(${ink.join(", ")})` };
  }

  function tierInfo(tier) {
    return state.tiers.get(tier) || { tier, label: tier || "?", color: FALLBACK_COLOR, shape: "" };
  }

  // -- messages ----------------------------------------------------------------------------

  let successTimer = null;

  function showError(message) {
    setText(ui.error, message);
    ui.errorBox.hidden = false;
    ui.success.hidden = true;
  }

  function clearError() {
    ui.errorBox.hidden = true;
    setText(ui.error, "");
  }

  function showSuccess(message) {
    clearTimeout(successTimer);
    setText(ui.success, message);
    ui.success.hidden = false;
    successTimer = setTimeout(() => {
      ui.success.hidden = true;
    }, SUCCESS_MS);
  }

  // -- the API -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  class NetworkError extends Error {}

  // One call with the staff key in the X-API-Key header (never in the URL, so it stays out
  // of access logs and history). Resolves to {data, response}; throws ApiError with the
  // API's own message, or NetworkError when there was no answer in time.
  async function api(method, path, { body, idempotencyKey } = {}) {
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
  const intentKeys = new Map();

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

  // -- time --------------------------------------------------------------------------------

  function syncClock(response) {
    const server = Date.parse(response.headers.get("date") || "");
    if (Number.isNaN(server)) return;
    const offset = server - Date.now();
    // The Date header has whole seconds: ignore the jitter, correct a wrong tablet clock.
    if (Math.abs(offset - state.clockOffsetMs) > 2000) state.clockOffsetMs = offset;
  }

  function sinceText(iso) {
    const opened = Date.parse(iso || "");
    if (Number.isNaN(opened)) return "";
    const minutes = Math.max(0, Math.floor((Date.now() + state.clockOffsetMs - opened) / 60000));
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")}`;
  }

  function timeText(date, options = {}) {
    return date.toLocaleTimeString(state.locale, { hour: "2-digit", minute: "2-digit", ...options });
  }

  function clockText() {
    return timeText(new Date(), { second: "2-digit" });
  }

  const money = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const count = new Intl.NumberFormat();

  // -- a visit card ------------------------------------------------------------------------

  function makeCard(view) {
    const card = { id: view.decision_id, view: null, sig: "", cues: new Map() };
    const root = el("article", { class: "card", testid: "visit-card", tabindex: "-1" });
    card.root = root;

    card.ticket = el("span", { class: "ticket-number", testid: "card-ticket" });
    const ticketId = `ticket-${view.decision_id}`;
    card.heading = el("h2", { class: "ticket", id: ticketId }, [
      el("span", { class: "ticket-caption", text: "Ticket " }), // the space: "Ticket 12" when read aloud
      card.ticket,
    ]);
    root.setAttribute("aria-labelledby", ticketId);
    card.shape = el("span", { class: "tier-shape" });
    card.label = el("span", { class: "tier-label", testid: "card-tier-label" });
    card.band = el("header", { class: "band", testid: "tier-band" }, [
      card.heading,
      el("div", { class: "tier" }, [card.shape, card.label]),
    ]);

    card.overrideNote = el("p", { class: "override-note", testid: "override-marker", hidden: true });
    card.party = el("span", { class: "meta-item", testid: "card-party" });
    card.age = el("span", { class: "meta-item", testid: "card-age" });
    card.meta = el("p", { class: "meta" }, [card.party, card.age]);
    card.source = el("p", { class: "source", testid: "card-source" });
    card.cueList = el("ul", { class: "cues", "aria-label": "Cues" });
    card.reason = el("p", { class: "reason", testid: "card-reason" });

    buildCloseForm(card);
    buildOverrideForm(card);

    root.append(
      card.band,
      el("div", { class: "card-body" }, [
        card.overrideNote,
        card.meta,
        card.source,
        card.cueList,
        card.reason,
      ]),
      el("footer", { class: "card-actions" }, [card.closeForm, card.overrideToggle]),
      card.overrideForm,
    );
    return card;
  }

  function buildCloseForm(card) {
    const inputId = `spend-${card.id}`;
    card.spend = el("input", {
      id: inputId,
      class: "spend-input",
      testid: "spend-input",
      type: "text",
      inputmode: "decimal",
      autocomplete: "off",
      placeholder: "0.00",
      "aria-describedby": `ticket-${card.id}`,
    });
    // Every card has the same buttons; the ticket in their description tells them apart.
    card.closeButton = el("button", {
      type: "submit",
      class: "btn btn-primary",
      testid: "close-visit",
      text: "Close visit",
      "aria-describedby": `ticket-${card.id}`,
    });
    card.closeForm = el("form", { class: "close-form", autocomplete: "off", novalidate: true }, [
      el("div", { class: "spend-group" }, [
        el("label", { for: inputId, class: "spend-label", text: "Spend" }),
        card.spend,
      ]),
      card.closeButton,
    ]);
    card.closeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      closeVisit(card);
    });
  }

  function buildOverrideForm(card) {
    const formId = `override-${card.id}`;
    card.overrideToggle = el("button", {
      type: "button",
      class: "btn btn-link",
      testid: "override-open",
      "aria-expanded": "false",
      "aria-controls": formId,
      "aria-describedby": `ticket-${card.id}`,
      text: "Change tier",
    });
    card.overrideSelect = el("select", { id: `${formId}-tier`, testid: "override-tier", required: true });
    card.overrideReason = el("input", {
      id: `${formId}-reason`,
      testid: "override-reason",
      type: "text",
      maxlength: "1000",
      autocomplete: "off",
      required: true,
      placeholder: "Why? e.g. regular, knows the chef",
    });
    card.overrideSave = el("button", {
      type: "submit",
      class: "btn btn-primary",
      testid: "override-save",
      text: "Save tier",
    });
    const cancel = el("button", { type: "button", class: "btn btn-secondary", text: "Cancel" });
    const field = (label, control) =>
      el("div", { class: "field" }, [el("label", { for: control.id, text: label }), control]);
    card.overrideForm = el(
      "form",
      { id: formId, class: "override-form", autocomplete: "off", novalidate: true, hidden: true },
      [
        field("New tier", card.overrideSelect),
        field("Reason (required)", card.overrideReason),
        el("div", { class: "form-buttons" }, [card.overrideSave, cancel]),
      ],
    );
    fillTierSelect(card.overrideSelect);
    const setOpen = (open) => {
      card.overrideForm.hidden = !open;
      card.overrideToggle.setAttribute("aria-expanded", String(open));
      if (open) card.overrideSelect.focus();
    };
    card.overrideToggle.addEventListener("click", () => setOpen(card.overrideForm.hidden));
    cancel.addEventListener("click", () => {
      setOpen(false);
      card.overrideToggle.focus();
    });
    card.closeOverride = () => setOpen(false);
    card.overrideForm.addEventListener("submit", (event) => {
      event.preventDefault();
      overrideTier(card);
    });
  }

  // Rebuilt only when the listing's tiers change; the staff member's choice is kept.
  function fillTierSelect(select) {
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: "Choose a tier" }));
    for (const t of state.tiers.values()) select.append(el("option", { value: t.tier, text: t.label }));
    if (chosen && state.tiers.has(chosen)) select.value = chosen;
  }

  function makeCue(card, cue) {
    const text = el("span", { class: "cue-text", testid: "cue-text", text: cue.text });
    const status = el("span", { class: "cue-status", testid: "cue-status" });
    const accept = el("button", {
      type: "button",
      class: "cue-btn cue-accept",
      testid: "cue-accept",
      "aria-pressed": "false",
      "aria-label": `Accepted: ${cue.text}`,
      title: "Accepted",
    }, [el("span", { "aria-hidden": "true", text: "✓" })]);
    const decline = el("button", {
      type: "button",
      class: "cue-btn cue-decline",
      testid: "cue-decline",
      "aria-pressed": "false",
      "aria-label": `Declined: ${cue.text}`,
      title: "Declined",
    }, [el("span", { "aria-hidden": "true", text: "✕" })]);
    accept.dataset.cue = cue.code;
    decline.dataset.cue = cue.code;
    const perk = cue.perk ? el("span", { class: "cue-perk", text: "perk" }) : null;
    const row = el("li", { class: "cue", testid: "cue" }, [
      el("div", { class: "cue-words" }, [text, perk, status]),
      el("div", { class: "cue-buttons" }, [accept, decline]),
    ]);
    row.dataset.cue = cue.code;
    const entry = { row, accept, decline, status, cue };
    accept.addEventListener("click", () => markCue(card, entry, "accepted"));
    decline.addEventListener("click", () => markCue(card, entry, "declined"));
    return entry;
  }

  function paintCue(entry, mark) {
    entry.row.dataset.state = mark || "open";
    entry.accept.setAttribute("aria-pressed", String(mark === "accepted"));
    entry.decline.setAttribute("aria-pressed", String(mark === "declined"));
    setText(entry.status, mark === "accepted" ? "Accepted" : mark === "declined" ? "Declined" : "");
  }

  function cueMark(view, code) {
    if ((view.accepted || []).includes(code)) return "accepted";
    if ((view.declined || []).includes(code)) return "declined";
    return null;
  }

  // What a card shows, as a string: a card is touched only when this changes (the age text
  // is the exception, cheap and per poll), so focus, open forms and typed text survive.
  function signature(view) {
    return JSON.stringify([
      view.ticket,
      view.tier,
      view.override,
      view.cues,
      view.party_size,
      view.source,
      view.accepted,
      view.declined,
      view.decision && view.decision.degraded,
      state.tiersSig,
      state.sourceChips,
    ]);
  }

  function updateCard(card, view) {
    const sig = signature(view);
    setText(card.age, sinceText(view.opened_at));
    if (sig === card.sig) {
      card.view = view;
      return;
    }
    const first = card.view === null;
    card.sig = sig;
    card.view = view;
    const decision = view.decision || {};
    const info = tierInfo(view.tier);
    const colors = tierColors(info.color);

    card.root.dataset.ticket = String(view.ticket);
    card.root.dataset.tier = String(view.tier);
    card.root.dataset.decisionId = String(view.decision_id);
    card.root.classList.toggle("is-degraded", Boolean(decision.degraded));
    setText(card.ticket, view.ticket);
    setText(card.label, info.label);
    card.band.style.backgroundColor = colors.background;
    card.band.style.color = colors.text;
    card.root.style.setProperty("--tier", colors.background);
    if (card.shapeName !== info.shape || first) {
      card.shape.replaceChildren(shapeIcon(info.shape));
      card.shapeName = info.shape;
    }

    if (view.override) {
      const was = tierInfo(decision.tier).label;
      const by = view.override.reason ? ` · “${view.override.reason}”` : "";
      setText(card.overrideNote, `Changed by staff (model said ${was})${by}`);
      card.overrideNote.hidden = false;
    } else {
      card.overrideNote.hidden = true;
    }

    setText(card.party, view.party_size ? `Party of ${view.party_size}` : "Party size not given");
    card.source.replaceChildren(...(state.sourceChips ? sourceParts(view.source) : []));
    card.source.hidden = card.source.childElementCount === 0;

    // The cues in force: an override's tier brings its own.
    const cues = view.cues || decision.cues || [];
    const cueCodes = JSON.stringify(cues.map((cue) => cue.code));
    if (first || card.cueCodes !== cueCodes) {
      card.cueCodes = cueCodes;
      card.cues.clear();
      card.cueList.replaceChildren();
      for (const cue of cues) {
        const entry = makeCue(card, cue);
        card.cues.set(cue.code, entry);
        card.cueList.append(entry.row);
      }
    }
    for (const [code, entry] of card.cues) paintCue(entry, cueMark(view, code));

    const reason = (decision.reasons || [])[0];
    setText(card.reason, reason && reason.text ? `Why: ${reason.text}` : "");
    card.reason.hidden = !(reason && reason.text);

    if (first) fillTierSelect(card.overrideSelect);
  }

  function sourceParts(source) {
    if (!source || typeof source !== "object") {
      return [el("span", { class: "source-none", text: "Walk-in: no campaign" })];
    }
    const parts = [];
    for (const [field, label] of SOURCE_FIELDS) {
      const value = source[field];
      if (value === undefined || value === null || value === "") continue;
      parts.push(
        el("span", { class: "chip" }, [
          el("span", { class: "chip-label", text: label }),
          el("span", { class: "chip-value", text: value }),
        ]),
      );
    }
    return parts.length ? parts : [el("span", { class: "source-none", text: "Walk-in: no campaign" })];
  }

  // -- actions -----------------------------------------------------------------------------

  async function markCue(card, entry, mark) {
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

  async function closeVisit(card) {
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

  async function overrideTier(card) {
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

  function removeCard(card, moveFocus) {
    const hadFocus = card.root.contains(document.activeElement);
    const next = card.root.nextElementSibling || card.root.previousElementSibling;
    card.root.remove();
    cards.delete(card.id);
    // Keep keyboard users in the grid rather than dropping focus to the page's top.
    if (moveFocus && hadFocus && next) next.focus();
  }

  // -- the listing -------------------------------------------------------------------------

  function applyListing(data, startedAt) {
    state.role = data.role;
    state.site = data.site;
    setText(ui.site, data.site ? `· ${data.site}` : "");
    const display = data.display || {};
    state.locale = display.locale || undefined;
    state.sourceChips = display.source_chips === true;
    ui.tabs.hidden = data.role !== "admin";
    if (data.role !== "admin" && state.view === "manager") showView("floor");

    const tiersSig = JSON.stringify(data.tiers || []);
    if (tiersSig !== state.tiersSig) {
      state.tiersSig = tiersSig;
      state.tiers = new Map((data.tiers || []).map((t) => [t.tier, t]));
      if (state.filter !== "all" && !state.tiers.has(state.filter)) state.filter = "all";
      buildFilters();
      for (const card of cards.values()) fillTierSelect(card.overrideSelect);
    }

    const items = (data.items || []).filter((view) => {
      const closedAt = state.closed.get(view.decision_id);
      return closedAt === undefined || closedAt <= startedAt; // not if closed after this was read
    });
    const seen = new Set(items.map((v) => v.decision_id));
    for (const id of [...state.closed.keys()]) {
      if (!seen.has(id) && state.closed.get(id) <= startedAt) state.closed.delete(id);
    }
    for (const card of [...cards.values()]) if (!seen.has(card.id)) removeCard(card, true);

    items.forEach((view, index) => {
      let card = cards.get(view.decision_id);
      if (!card) {
        card = makeCard(view);
        cards.set(view.decision_id, card);
      }
      // A card changed by an action after this listing was read already shows newer data.
      if (card.touchedAt === undefined || card.touchedAt <= startedAt) updateCard(card, view);
      else setText(card.age, sinceText(view.opened_at));
      // Move only what is out of place (newest first): moving a node blurs what is inside.
      const atIndex = ui.grid.children[index];
      if (atIndex !== card.root) ui.grid.insertBefore(card.root, atIndex || null);
    });
    state.items = items;

    const degraded = Boolean(data.degraded) || items.some((v) => v.decision && v.decision.degraded);
    ui.degraded.hidden = !degraded;
    setText(ui.updated, `Updated ${clockText()}`);
    afterRender();
  }

  function buildFilters() {
    const buttons = [filterButton("all", "All", null)];
    for (const t of state.tiers.values()) buttons.push(filterButton(t.tier, t.label, t));
    ui.filters.replaceChildren(...buttons);
  }

  function filterButton(value, label, tier) {
    const countEl = el("span", { class: "filter-count" });
    const pressed = String(state.filter === value);
    const props = { type: "button", class: "filter", testid: "tier-filter", "aria-pressed": pressed };
    const button = el("button", props, [
      tier ? el("span", { class: "filter-shape" }, [shapeIcon(tier.shape)]) : null,
      el("span", { text: label }),
      countEl,
    ]);
    button.dataset.tier = value;
    if (tier) button.querySelector(".filter-shape").style.color = tierColors(tier.color).background;
    button.addEventListener("click", () => {
      state.filter = value;
      for (const b of ui.filters.children) b.setAttribute("aria-pressed", String(b.dataset.tier === value));
      afterRender();
    });
    return button;
  }

  // Visibility (tier filter, ticket lookup), filter counts and the empty state.
  function afterRender() {
    const counts = new Map();
    let total = 0;
    let shown = 0;
    let found = null;
    for (const card of cards.values()) {
      const view = card.view;
      total += 1;
      counts.set(view.tier, (counts.get(view.tier) || 0) + 1);
      const ticket = String(view.ticket);
      // A ticket search looks across every tier: a waiter holding ticket 212 wants it.
      const visible = state.lookup
        ? ticket.startsWith(state.lookup)
        : state.filter === "all" || view.tier === state.filter;
      card.root.hidden = !visible;
      card.root.classList.toggle("is-found", Boolean(state.lookup) && ticket === state.lookup);
      if (state.lookup && ticket === state.lookup) found = card;
      if (visible) shown += 1;
    }
    for (const b of ui.filters.children) {
      const n = b.dataset.tier === "all" ? total : counts.get(b.dataset.tier) || 0;
      setText(b.querySelector(".filter-count"), n);
    }
    let empty = "";
    if (total === 0) empty = "No open visits";
    else if (shown === 0 && state.lookup) empty = `No open visit with ticket ${state.lookup}`;
    else if (shown === 0) empty = `No open ${tierInfo(state.filter).label} visits`;
    setText(ui.empty, empty);
    ui.empty.hidden = !empty;
    return found;
  }

  // -- polling -----------------------------------------------------------------------------

  function setOffline(offline) {
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

  function startPolling() {
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

  function stopPolling() {
    state.pollGeneration += 1;
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  // -- the manager view --------------------------------------------------------------------

  function showView(view) {
    state.view = view;
    const manager = view === "manager";
    ui.floor.hidden = manager;
    ui.manager.hidden = !manager;
    ui.tabFloor.setAttribute("aria-selected", String(!manager));
    ui.tabManager.setAttribute("aria-selected", String(manager));
    ui.tabFloor.tabIndex = manager ? -1 : 0;
    ui.tabManager.tabIndex = manager ? 0 : -1;
    clearInterval(state.reportTimer);
    state.reportTimer = null;
    clearInterval(state.driftTimer);
    state.driftTimer = null;
    clearInterval(state.upliftTimer);
    state.upliftTimer = null;
    if (manager) {
      loadReport();
      state.reportTimer = setInterval(loadReport, REPORT_MS);
      loadDrift();
      state.driftTimer = setInterval(loadDrift, DRIFT_MS);
      loadUplift();
      state.upliftTimer = setInterval(loadUplift, UPLIFT_MS);
    }
  }

  let reportError = "";

  async function loadReport() {
    const session = state.session;
    try {
      const { data } = await api("GET", "v1/reports/day");
      if (session !== state.session) return;
      reportError = "";
      renderReport(data);
    } catch (error) {
      if (session !== state.session) return;
      if (error instanceof ApiError && error.status === 401) {
        signOut(`Signed out: ${error.message}`);
        return;
      }
      const message = error instanceof ApiError ? error.message : "Could not load today's report; retrying";
      if (message !== reportError) showError(message); // once, not every 5 s
      reportError = message;
    }
  }

  async function loadDrift() {
    const session = state.session;
    try {
      const { data } = await api("GET", "v1/reports/drift");
      if (session !== state.session) return;
      renderDrift(data);
    } catch (error) {
      if (session !== state.session) return;
      // No model, or one trained before drift: say so in the panel, not as an alert.
      const message = error instanceof ApiError ? error.message : "Could not load the drift report; retrying";
      setText($("drift-note"), message);
      $("drift").replaceChildren();
    }
  }

  // Only the signals worth a look: watch (0.1 to 0.25) and act (from 0.25).
  function renderDrift(report) {
    const percent = (share) => `${Math.round(share * 1000) / 10}%`;
    const flagged = (report.signals || []).filter((s) => s.band !== "stable");
    let note = report.message || "";
    if (report.enough) {
      note = `${count.format(report.decisions)} decisions against the training data of ${report.model_version}.`;
      if (!flagged.length) note += " Every signal is stable.";
    }
    setText($("drift-note"), note);
    const rows = flagged.map((s) =>
      el("tr", { testid: "drift-row" }, [
        cell(s.signal),
        cell(s.psi.toFixed(2), true),
        el("td", {}, [el("span", { class: `drift-band drift-${s.band}`, text: s.band })]),
        cell(percent(s.missing_share), true),
        cell(percent(s.training_missing_share), true),
      ]),
    );
    $("drift").replaceChildren(...(rows.length ? rows : [emptyRow(5, "No signal to watch")]));
  }

  function cell(text, numeric) {
    return el("td", { class: numeric ? "num" : null, text });
  }

  function emptyRow(columns, text) {
    return el("tr", {}, [el("td", { colspan: columns, class: "table-empty", text })]);
  }

  function tierCell(tier) {
    const info = tierInfo(tier);
    const swatch = el("span", { class: "swatch" }, [shapeIcon(info.shape)]);
    swatch.style.color = tierColors(info.color).background;
    return el("td", {}, [el("span", { class: "tier-name" }, [swatch, el("span", { text: info.label })])]);
  }

  function renderReport(report) {
    setText($("report-site"), report.site);
    setText($("report-day"), `Day ${report.day} (${report.timezone} time) · refreshed ${clockText()}`);
    const open = (report.by_tier || []).reduce((n, t) => n + (t.open || 0), 0);
    const total = (label, value, testid) =>
      el("div", { class: "total", testid }, [
        el("span", { class: "total-value", text: value }),
        el("span", { class: "total-label", text: label }),
      ]);
    $("report-totals").replaceChildren(
      total("Visits", count.format(report.visits || 0), "total-visits"),
      total("Still open", count.format(open), "total-open"),
      total("Revenue (closed visits)", money.format(report.spend || 0), "total-spend"),
    );

    // The playbook's tier order (VIP first), as on the floor, not the API's alphabetical one.
    const order = [...state.tiers.keys()];
    const rank = (tier) => (order.includes(tier) ? order.indexOf(tier) : order.length);
    const tiers = [...(report.by_tier || [])].sort((a, b) => rank(a.tier) - rank(b.tier));
    const byTier = tiers.map((t) =>
      el("tr", {}, [
        tierCell(t.tier),
        cell(count.format(t.visits), true),
        cell(count.format(t.open), true),
        cell(money.format(t.spend), true),
      ]),
    );
    $("by-tier").replaceChildren(...(byTier.length ? byTier : [emptyRow(4, "No visits yet today")]));

    const byCampaign = (report.by_campaign || []).map((c) =>
      el("tr", {}, [cell(c.campaign), cell(count.format(c.visits), true), cell(money.format(c.spend), true)]),
    );
    $("by-campaign").replaceChildren(
      ...(byCampaign.length ? byCampaign : [emptyRow(3, "No visits yet today")]),
    );

    const perks = (report.perks || []).map((p) => {
      const budget = typeof p.daily_budget === "number" ? p.daily_budget : null;
      const used = budget ? Math.min(1, (p.spent || 0) / budget) : null;
      const bar = el("span", { class: "bar" }, [el("span", { class: "bar-fill" })]);
      const usedCell = el("td", { class: "used" });
      if (used === null) {
        usedCell.append(el("span", { text: "no budget" }));
      } else {
        bar.firstChild.style.width = `${Math.round(used * 100)}%`;
        bar.classList.toggle("is-high", used >= 0.8);
        usedCell.append(bar, el("span", { class: "bar-text", text: `${Math.round(used * 100)}%` }));
      }
      const stock = p.stock_left == null ? "unlimited" : count.format(p.stock_left);
      return el("tr", {}, [
        cell(p.text || p.perk),
        cell(count.format(p.issued), true),
        cell(money.format(p.spent), true),
        cell(budget === null ? "—" : money.format(budget), true),
        usedCell,
        cell(stock, true),
      ]);
    });
    $("perks").replaceChildren(...(perks.length ? perks : [emptyRow(6, "No perks in the playbook")]));
    state.perkTexts = new Map((report.perks || []).map((p) => [p.perk, p.text || p.perk]));
  }

  // -- the uplift panel --------------------------------------------------------------------

  const signedMoney = new Intl.NumberFormat(undefined, {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
    signDisplay: "exceptZero",
  });
  const signedPoints = new Intl.NumberFormat(undefined, {
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
    signDisplay: "exceptZero",
  });
  const percent = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

  async function loadUplift() {
    const session = state.session;
    try {
      const { data } = await api("GET", "v1/reports/uplift");
      if (session !== state.session) return;
      renderUplift(data);
    } catch (error) {
      if (session !== state.session) return;
      if (error instanceof ApiError && error.status === 401) {
        signOut(`Signed out: ${error.message}`);
        return;
      }
      const message = error instanceof ApiError ? error.message : "Could not load the uplift; retrying";
      if (message !== reportError) showError(message);
      reportError = message;
    }
  }

  // The difference in bold, its 95 % range below it, then what the two sides were.
  function differenceCell(interval, format, unit, sides) {
    const range = `${format(interval.low)} to ${format(interval.high)}`;
    return el("td", { class: "uplift-cell" }, [
      el("span", { class: "uplift-diff", text: `${format(interval.estimate)}${unit}` }),
      el("span", { class: "uplift-range", text: range }),
      sides ? el("span", { class: "uplift-sides", text: sides }) : null,
    ]);
  }

  function renderUplift(report) {
    const order = [...state.tiers.keys()];
    const rank = (tier) => (order.includes(tier) ? order.indexOf(tier) : order.length);
    const rows = [...(report.rows || [])].sort((a, b) => rank(a.tier) - rank(b.tier));
    const points = (x) => signedPoints.format(x * 100);
    const built = rows.map((r) => {
      const perk = r.perk === null ? "Whole tier" : state.perkTexts.get(r.perk) || r.perk;
      const head = [
        tierCell(r.tier),
        cell(perk),
        cell(count.format(r.treated.customers), true),
        cell(count.format(r.holdout.customers), true),
      ];
      if (!r.enough_data) {
        const needed = `Not enough data yet: ${count.format(report.min_customers)} guests needed on each side`;
        return el("tr", { testid: "uplift-row" }, [...head, el("td", { colspan: 3, class: "table-empty", text: needed })]);
      }
      const t = r.treated;
      const h = r.holdout;
      return el("tr", { testid: "uplift-row" }, [
        ...head,
        differenceCell(r.conversion_difference, points, " pts", `${percent.format(t.conversion_rate)} vs ${percent.format(h.conversion_rate)}`),
        differenceCell(r.spend_difference, (x) => signedMoney.format(x), "", `${money.format(t.spend_per_customer)} vs ${money.format(h.spend_per_customer)}`),
        differenceCell(r.net_value, (x) => signedMoney.format(x), "", `cost ${money.format(r.cost_per_customer)}`),
      ]);
    });
    $("uplift").replaceChildren(...(built.length ? built : [emptyRow(7, "No decisions with a customer id yet")]));
  }

  // -- sign-in and sign-out ----------------------------------------------------------------

  function showBoard() {
    ui.signin.hidden = true;
    ui.signOut.hidden = false;
    showView(state.view === "manager" && state.role === "admin" ? "manager" : "floor");
  }

  function signOut(message) {
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

  async function signIn(event) {
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
  async function enter(key, input) {
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

  function failure(error) {
    return error instanceof ApiError
      ? error.message
      : "Could not reach tierline; check the network and try again";
  }

  // A pairing code is spent on a staff key of its own; the tablet then signs in with it.
  async function pairIn(event) {
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

  function hidePairingCode() {
    clearTimeout(state.pairingTimer);
    state.pairingTimer = null;
    setText(ui.pairingCode, "");
    ui.pairingCode.hidden = true;
  }

  async function issuePairingCode() {
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

  // -- wiring ------------------------------------------------------------------------------

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

  const saved = sessionStorage.getItem(KEY_STORE);
  if (saved) {
    state.key = saved;
    ui.signin.hidden = true;
    showBoard();
    startPolling();
  } else {
    ui.keyInput.focus();
  }
})();
