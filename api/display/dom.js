// The page's elements, the one way nodes are made, and the error and success messages.
//
// Every value that came from a customer or a member of staff is written with textContent
// or setAttribute, never parsed as HTML, so markup in a signal shows as text.

const SUCCESS_MS = 2500;

export const $ = (id) => document.getElementById(id);
export const ui = {
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

export function el(tag, props = {}, children = []) {
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

export function setText(node, text) {
  const value = text == null ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

let successTimer = null;

export function showError(message) {
  setText(ui.error, message);
  ui.errorBox.hidden = false;
  ui.success.hidden = true;
}

export function clearError() {
  ui.errorBox.hidden = true;
  setText(ui.error, "");
}

export function showSuccess(message) {
  clearTimeout(successTimer);
  setText(ui.success, message);
  ui.success.hidden = false;
  successTimer = setTimeout(() => {
    ui.success.hidden = true;
  }, SUCCESS_MS);
}
