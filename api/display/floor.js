// The floor: the listing's cards in order, the tier filters and the ticket lookup.

import { cards, state } from "./state.js";
import { el, setText, ui } from "./dom.js";
import { shapeIcon, tierColors, tierInfo } from "./tiers.js";
import { clockText, sinceText } from "./format.js";
import { fillTierSelect, makeCard, updateCard } from "./card.js";
import { showView } from "./manager.js";

export function removeCard(card, moveFocus) {
  const hadFocus = card.root.contains(document.activeElement);
  const next = card.root.nextElementSibling || card.root.previousElementSibling;
  card.root.remove();
  cards.delete(card.id);
  // Keep keyboard users in the grid rather than dropping focus to the page's top.
  if (moveFocus && hadFocus && next) next.focus();
}

export function applyListing(data, startedAt) {
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
export function afterRender() {
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
