// The manager view (admin keys): today's report, drift and the measured uplift.

import { state } from "./state.js";
import { $, el, setText, showError, ui } from "./dom.js";
import { shapeIcon, tierColors, tierInfo } from "./tiers.js";
import { clockText, count, money } from "./format.js";
import { api, ApiError } from "./api.js";
import { signOut } from "./session.js";

const REPORT_MS = 5000;
// Drift reads every logged decision to find the week's (the log has no time index),
// so it refreshes far less often than today's figures.
const DRIFT_MS = 600000;
// The uplift reads the site's whole decision log and its figures move slowly.
const UPLIFT_MS = 300000;

export function showView(view) {
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
