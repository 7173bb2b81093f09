// A visit card: built once per visit, then touched only where the listing changed it.

import { state } from "./state.js";
import { el, setText } from "./dom.js";
import { shapeIcon, tierColors, tierInfo } from "./tiers.js";
import { sinceText } from "./format.js";
import { closeVisit, markCue, overrideTier } from "./actions.js";

const SOURCE_FIELDS = [
  ["campaign", "Campaign"],
  ["landing_page", "Page"],
  ["channel", "Channel"],
  ["utm_source", "Source"],
  ["utm_medium", "Medium"],
  ["referrer", "Referrer"],
];

export function makeCard(view) {
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
export function fillTierSelect(select) {
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

export function cueMark(view, code) {
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

export function updateCard(card, view) {
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
