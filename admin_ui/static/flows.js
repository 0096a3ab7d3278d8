// The Revenue Recovery form (/flows/recovery), and the helpers every settings form shares
// (windows.js imports them): the page renders the saved settings document as JSON; saving
// overlays the form's controls on it (each control's `name` is its dotted path in the
// document) and PUTs the whole document to /api/settings. A 422 puts each message on the
// control of that name (admin.js); a success refreshes what the server computes from the
// saved settings (warnings, previews) by fetching this page again.
import { wireForm } from "/admin-assets/admin.js";

/** The settings document the page was rendered with. */
export function renderedDocument(id = "settings-document") {
  return JSON.parse(document.getElementById(id).textContent);
}

function isChecked(control) {
  return "checked" in control ? Boolean(control.checked) : control.hasAttribute("checked");
}

function isSelected(choice) {
  return "selected" in choice ? Boolean(choice.selected) : choice.hasAttribute("selected");
}

function choiceValues(list) {
  if (Array.isArray(list.values)) return [...list.values];
  return [...list.querySelectorAll("s-choice")].filter(isSelected).map((c) => c.getAttribute("value"));
}

function textOf(control) {
  const value = control.value ?? control.getAttribute("value") ?? "";
  return String(value).trim();
}

/** A control's value as the settings document holds it. Text the server will refuse is sent as
 * typed, so the refusal names it (a "1.5" minute delay is not silently rounded). */
export function controlValue(control) {
  const tag = control.localName;
  if (tag === "s-switch" || tag === "s-checkbox" || control.type === "checkbox") return isChecked(control);
  if (tag === "s-choice-list") return choiceValues(control);
  const text = textOf(control);
  switch (control.dataset.type) {
    case "integer":
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case "decimal": // as typed: the server keeps every digit of a money amount
    case "optional-text":
      return text === "" ? null : text;
    default:
      return text;
  }
}

/** Set `doc`'s value at a dotted path ("recovery.first.delay_minutes"). */
export function setPath(doc, path, value) {
  const keys = path.split(".");
  let node = doc;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {};
    node = node[key];
  }
  node[keys[keys.length - 1]] = value;
}

/** The whole document: `base` with every named control of `form` laid over it (controls
 * marked data-own-value are read by the page's own script). */
export function overlay(base, form) {
  const doc = structuredClone(base);
  for (const control of form.querySelectorAll("[name]")) {
    if (control.closest("[data-own-value]")) continue;
    setPath(doc, control.getAttribute("name"), controlValue(control));
  }
  return doc;
}

/** Make the current values the form's defaults, so the save bar's discard (a form reset)
 * goes back to what was saved, not to what the page first showed. */
export function keepAsDefaults(form) {
  for (const control of form.querySelectorAll("[name]")) {
    const tag = control.localName;
    if (tag === "s-switch" || tag === "s-checkbox") {
      control.toggleAttribute("checked", isChecked(control));
    } else if (tag === "s-choice-list") {
      const chosen = choiceValues(control);
      for (const choice of control.querySelectorAll("s-choice")) {
        choice.toggleAttribute("selected", chosen.includes(choice.getAttribute("value")));
      }
    } else if (tag === "s-select") {
      const value = textOf(control);
      for (const option of control.querySelectorAll("s-option")) {
        option.toggleAttribute("selected", option.getAttribute("value") === value);
      }
    } else {
      control.setAttribute("value", textOf(control));
    }
  }
}

/** Fetch this page again and swap in its fresh `[data-refresh]` regions (matched by id). */
export async function refreshRegions() {
  const token = await window.shopify.idToken();
  const response = await fetch(window.location.pathname, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/html" },
  });
  if (!response.ok) return false;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const region of document.querySelectorAll("[data-refresh][id]")) {
    const replacement = fresh.getElementById(region.id);
    if (replacement) region.replaceWith(document.importNode(replacement, true));
  }
  return true;
}

/** Wire a settings form: save the whole document, then keep the saved one as the base. */
export function wireSettingsForm(form, { toDocument = overlay, onSaved } = {}) {
  const script = document.getElementById("settings-document");
  let saved = renderedDocument();
  wireForm(form, {
    url: "/api/settings",
    method: "PUT",
    saved: "Configuration saved",
    toBody: () => toDocument(saved, form),
    onSaved: async (data) => {
      saved = data.settings;
      script.textContent = JSON.stringify(saved);
      keepAsDefaults(form);
      if (onSaved) onSaved(saved);
      await refreshRegions();
    },
  });
  return () => saved;
}

const recoveryForm = document.getElementById("recovery-form");
if (recoveryForm) wireSettingsForm(recoveryForm);
