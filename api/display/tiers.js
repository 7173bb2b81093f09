// How a tier looks: its colour with a readable text colour on it, and its shape.

import { state } from "./state.js";

const FALLBACK_COLOR = "#4a5160";

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
export function shapeIcon(shape) {
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
export function tierColors(color) {
  const rgb = parseHex(color) || parseHex(FALLBACK_COLOR);
  const ink = contrast(WHITE, rgb) >= contrast(INK, rgb) ? WHITE : INK;
  return { background: `rgb(${rgb.join(", ")})`, text: `rgb(${ink.join(", ")})` };
}

export function tierInfo(tier) {
  return state.tiers.get(tier) || { tier, label: tier || "?", color: FALLBACK_COLOR, shape: "" };
}
