// /templates/<step>/<channel>/<language>: the editor. The page arrives with the text in effect and its
// preview; this keeps the preview live while the merchant types (debounced POST /api/templates/preview),
// saves through the save bar (PUT) and resets to the default (DELETE, after a confirmation).
import { api, clearErrors, toast, wireForm } from "/admin-assets/admin.js";

const PREVIEW_DELAY_MS = 350;
const form = document.getElementById("template-form");
const parts = ["subject", "body", "html"];

function control(name) {
  return form.querySelector(`[name="${name}"]`);
}

function valueOf(name) {
  const element = control(name);
  return element && element.value != null ? String(element.value) : null;
}

function setValue(name, value) {
  const element = control(name);
  if (element) element.value = value ?? "";
}

/** The document the API takes: the parts this channel has; an empty HTML part is none. */
function templateDocument() {
  const html = valueOf("html");
  return {
    subject: valueOf("subject"),
    body: valueOf("body") ?? "",
    html: html && html.trim() ? html : null,
  };
}

// --- saved or default ----------------------------------------------------------------------------

const state = { custom: form?.dataset.custom === "true", edited: false };

function showState(custom, updatedAt) {
  state.custom = custom;
  form.dataset.custom = String(custom);
  document.querySelector('[data-state="custom"]').hidden = !custom;
  document.querySelector('[data-state="default"]').hidden = custom;
  const words = document.querySelector("[data-state-text]");
  if (words) {
    const when = updatedAt ? `, saved ${updatedAt.slice(0, 16).replace("T", " ")} UTC` : "";
    words.textContent = custom ? `Your own text${when}.` : "The default text; saving makes it your own.";
  }
  const reset = document.getElementById("template-reset");
  reset?.toggleAttribute("disabled", !custom);
}

function defaults() {
  const script = document.getElementById("template-defaults");
  return script ? JSON.parse(script.textContent) : {};
}

function fill(template) {
  for (const name of parts) setValue(name, template[name]);
  clearErrors(form);
  state.edited = false;
}

// --- the live preview ----------------------------------------------------------------------------

let timer = null;
let asked = 0;
// The fields whose error the preview put there. A preview's answer replaces only those: a refused
// save's errors stay (a preview asked before the save may answer after it) until that field is
// edited again or the next save.
const previewErrors = new Set();

function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(refreshPreview, PREVIEW_DELAY_MS);
}

function previewRequest() {
  const tone = document.getElementById("preview-tone");
  const discount = document.getElementById("preview-discount");
  const { dataset } = form;
  const request = { channel: dataset.channel, language: dataset.language, step: dataset.step, ...templateDocument() };
  if (tone && tone.value) request.tone = tone.value;
  if (discount) request.with_discount = Boolean(discount.checked);
  if (request.subject === null) delete request.subject;
  return request;
}

async function refreshPreview() {
  const mine = ++asked;
  const { ok, status, data } = await api("/api/templates/preview", { method: "POST", body: previewRequest() });
  if (mine !== asked) return; // a newer keystroke already asked again
  const failed = document.querySelector("[data-preview-error]");
  for (const name of previewErrors) control(name)?.removeAttribute("error");
  previewErrors.clear();
  if (ok) {
    failed.hidden = true;
    showPreview(data.preview, data.problems);
    return;
  }
  const errors = status === 422 && data && Array.isArray(data.errors) ? data.errors : [];
  for (const { field, message } of errors) {
    control(field)?.setAttribute("error", message);
    previewErrors.add(field);
  }
  failed.textContent = errors.length
    ? errors.map((e) => `${e.field}: ${e.message}`).join("\n")
    : (data && data.error) || `The preview is not available (HTTP ${status})`;
  failed.hidden = false;
}

function showPreview(preview, problems) {
  const subject = document.querySelector('[data-preview="subject"]');
  if (subject) subject.textContent = preview.subject ?? "";
  document.querySelector('[data-preview="body"]').textContent = preview.body ?? "";
  const frame = document.querySelector('[data-preview="html"]');
  if (frame) frame.srcdoc = preview.html ?? "";
  if (preview.sms) showSms(preview.sms);
  const banner = document.querySelector("[data-preview-problems]");
  const list = banner.querySelector("s-unordered-list");
  list.replaceChildren(
    ...problems.map(({ field, message }) => {
      const item = document.createElement("s-list-item");
      item.textContent = `${field}: ${message}`;
      return item;
    }),
  );
  banner.hidden = problems.length === 0;
}

function showSms(sms) {
  const plural = (n) => `${n} segment${n === 1 ? "" : "s"}`;
  const cells = {
    segments: `${sms.segments} of ${sms.cap}`,
    encoding: sms.encoding.toUpperCase() + (sms.non_gsm.length ? ` (because of ${sms.non_gsm.join(" ")})` : ""),
    characters: String(sms.characters),
    long_cart: plural(sms.long_cart.segments),
  };
  for (const [name, text] of Object.entries(cells)) {
    const cell = document.querySelector(`[data-sms="${name}"]`);
    if (cell) cell.textContent = text;
  }
  const over = document.querySelector('[data-sms="over"]');
  if (over) over.hidden = !sms.over;
}

// --- wiring --------------------------------------------------------------------------------------

function wireEditor() {
  wireForm(form, {
    url: form.dataset.url,
    method: "PUT",
    toBody: () => templateDocument(),
    saved: "Template saved",
    onSaved: (data) => {
      state.edited = false;
      showState(true, data.template.updated_at);
    },
  });
  form.addEventListener("input", (event) => {
    state.edited = true;
    if (event.target !== form) event.target.removeAttribute?.("error"); // the merchant is correcting it
    schedulePreview();
  });
  form.addEventListener("change", schedulePreview);
  form.addEventListener("reset", () => setTimeout(schedulePreview, 0)); // the save bar's Discard

  document.getElementById("preview-discount")?.addEventListener("change", schedulePreview);
  document.getElementById("preview-tone")?.addEventListener("change", (event) => {
    // An untouched default follows the tone; the merchant's own words never change by themselves.
    const text = defaults()[event.target.value];
    if (!state.custom && !state.edited && text) fill(text);
    schedulePreview();
  });

  document.getElementById("template-reset")?.addEventListener("click", async () => {
    if (!window.confirm("Reset to the default text? Your own text for this message is deleted.")) return;
    const { ok, status, data } = await api(form.dataset.url, { method: "DELETE" });
    if (!ok) return toast((data && data.error) || `Could not reset (HTTP ${status})`, { isError: true });
    fill(data.template); // the default in the shop's tone: what a send now uses
    const tone = document.getElementById("preview-tone");
    if (tone) tone.value = form.dataset.tone;
    showState(false, null);
    toast("Back to the default text");
    schedulePreview();
  });
}

if (form) wireEditor();
