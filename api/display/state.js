// What the display knows between polls: who is signed in, the listing, the filters and
// the timers. One object, shared by every module, so a sign-out can reset it in one place.

export const state = {
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

export const cards = new Map(); // decision_id -> card (a visit's identity; tickets are reused)
