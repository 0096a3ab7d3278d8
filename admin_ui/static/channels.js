// /settings/channels: connect or disconnect Twilio, create and refresh the WhatsApp templates, and
// "send a test to me" per channel. The page is rendered on the server; this only talks to the API.
import { api, clearErrors, showErrors, toast } from "/admin-assets/admin.js";

const TWILIO_FIELDS = ["account_sid", "auth_token", "messaging_service_sid", "from_number", "whatsapp_from"];
// The connection check answers in sentences on "twilio"; each names the field it is about.
const TWILIO_PROBLEMS = [
  ["Account SID", "twilio.account_sid"],
  ["Auth token", "twilio.auth_token"],
  ["Messaging Service SID", "twilio.messaging_service_sid"],
  ["SMS number", "twilio.from_number"],
  ["WhatsApp sender", "twilio.whatsapp_from"],
];

/** A control's current value: Polaris fields expose `.value` like native inputs. */
function valueOf(form, name) {
  const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
  return control && control.value != null ? String(control.value) : "";
}

function twilioBody(form) {
  const body = {};
  for (const key of TWILIO_FIELDS) {
    const value = valueOf(form, `twilio.${key}`).trim();
    if (value || key === "account_sid" || key === "auth_token") body[key] = value;
  }
  return body;
}

/** Put the connection check's sentences on the fields they name; the rest stay for the summary. */
function placeTwilioErrors(errors) {
  return errors.map(({ field, message }) => {
    if (field !== "twilio") return { field, message };
    const named = TWILIO_PROBLEMS.find(([prefix]) => message.startsWith(prefix));
    return { field: named ? named[1] : field, message };
  });
}

function setTwilioStatus(connected) {
  const badge = document.querySelector("[data-twilio-status]");
  if (badge) {
    badge.textContent = connected ? "Connected" : "Not connected";
    badge.setAttribute("tone", connected ? "success" : "warning");
  }
  const disconnect = document.getElementById("twilio-disconnect");
  if (disconnect) disconnect.hidden = !connected;
  for (const id of ["whatsapp-create", "whatsapp-refresh"]) {
    const button = document.getElementById(id);
    button?.toggleAttribute("disabled", !connected);
  }
}

function wireTwilio() {
  const form = document.getElementById("twilio-form");
  if (!form) return;
  // Like admin.js wireForm, but the connection check's own sentences are first put on their fields.
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, status, data } = await api("/api/channels/twilio", { method: "PUT", body: twilioBody(form) });
    if (ok) {
      clearErrors(form);
      const token = form.querySelector('[name="twilio.auth_token"]');
      if (token) token.value = "";
      setTwilioStatus(true);
      toast("Twilio connected");
    } else if (status === 422 && data && Array.isArray(data.errors)) {
      showErrors(form, placeTwilioErrors(data.errors));
      toast("Nothing was saved: please correct the highlighted fields", { isError: true });
    } else {
      toast((data && data.error) || `Could not connect (HTTP ${status})`, { isError: true });
    }
  });
  form.addEventListener("reset", () => clearErrors(form));
  document.getElementById("twilio-disconnect")?.addEventListener("click", async () => {
    if (!window.confirm("Disconnect Twilio? SMS and WhatsApp messages will wait as \"needs connection\".")) return;
    const { ok, status, data } = await api("/api/channels/twilio", { method: "DELETE" });
    if (!ok) return toast((data && data.error) || `Could not disconnect (HTTP ${status})`, { isError: true });
    setTwilioStatus(false);
    renderTemplates([]);
    toast("Twilio disconnected");
  });
}

function cell(...children) {
  const element = document.createElement("s-table-cell");
  element.append(...children);
  return element;
}

/** Redraw the WhatsApp templates table from the API's listing. */
function renderTemplates(templates) {
  const body = document.getElementById("whatsapp-templates");
  if (!body) return;
  if (!templates.length) {
    for (const badge of body.querySelectorAll("s-badge")) {
      badge.textContent = "not created";
      badge.setAttribute("tone", "neutral");
    }
    return;
  }
  const tones = JSON.parse(body.dataset.tones || "{}"); // approval state → badge tone, as the server has it
  body.replaceChildren(
    ...templates.map((t) => {
      const row = document.createElement("s-table-row");
      row.dataset.template = t.name;
      const badge = document.createElement("s-badge");
      badge.setAttribute("tone", tones[t.status] || "neutral");
      badge.textContent = t.status;
      const checked = t.checked_at ? t.checked_at.slice(0, 16).replace("T", " ") : "never";
      row.append(cell(t.name), cell(t.language), cell(badge), cell(t.rejection_reason || ""), cell(checked));
      return row;
    }),
  );
}

function wireTemplateButton(id, path, done) {
  const button = document.getElementById(id);
  if (!button) return;
  button.addEventListener("click", async () => {
    button.toggleAttribute("loading", true);
    try {
      const { ok, status, data } = await api(path, { method: "POST" });
      if (!ok) return toast((data && data.error) || `Twilio did not answer (HTTP ${status})`, { isError: true });
      renderTemplates(data.whatsapp_templates);
      toast(done);
    } finally {
      button.toggleAttribute("loading", false);
    }
  });
}

function showResult(form, tone, text) {
  const banner = form.querySelector("[data-test-result]");
  if (!banner) return;
  banner.setAttribute("tone", tone);
  banner.textContent = text;
  banner.hidden = false;
}

function wireTestForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    form.querySelector("[data-test-result]")?.setAttribute("hidden", "");
    const button = form.querySelector('s-button[type="submit"]');
    button?.toggleAttribute("loading", true);
    const body = { channel: form.dataset.channel, to: valueOf(form, "to"), language: valueOf(form, "language") || "en" };
    try {
      const { ok, status, data } = await api("/api/channels/test", { method: "POST", body });
      if (ok) {
        const test = data.test;
        showResult(form, "success", `Sent to ${test.to} through ${test.provider}. Not counted in your results.`);
        toast("Test sent");
      } else if (status === 422 && data && Array.isArray(data.errors)) {
        showErrors(form, data.errors);
      } else {
        showResult(form, "critical", (data && data.error) || `The test was not sent (HTTP ${status})`);
      }
    } finally {
      button?.toggleAttribute("loading", false);
    }
  });
}

wireTwilio();
wireTemplateButton("whatsapp-create", "/api/channels/whatsapp-templates", "Templates created and submitted");
wireTemplateButton("whatsapp-refresh", "/api/channels/whatsapp-templates/refresh", "Approval state refreshed");
for (const form of document.querySelectorAll("form.channel-test")) wireTestForm(form);
