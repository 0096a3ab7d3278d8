// The admin's one shared module: authenticated fetch, forms saved through App Bridge's save
// bar, errors shown next to their fields, toasts. Pages import what they need:
//   import { api, wireForm } from "/admin-assets/admin.js";

/** Call the app's JSON API with the session token App Bridge gives; returns {ok, status, data}. */
export async function api(path, { method = "GET", body } = {}) {
  const token = await window.shopify.idToken();
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { ok: response.ok, status: response.status, data };
}

export function toast(message, { isError = false } = {}) {
  window.shopify.toast.show(message, { isError });
}

/** Put each {field, message} on the form control named `field` (its `error` attribute); the
 * ones no control names go into the form's summary banner. Returns how many were shown. */
export function showErrors(form, errors) {
  clearErrors(form);
  const summary = form.querySelector("[data-error-summary]");
  const unplaced = [];
  for (const { field, message } of errors) {
    const control = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (control) control.setAttribute("error", message);
    else unplaced.push(`${field}: ${message}`);
  }
  if (summary) {
    summary.textContent = unplaced.join("\n");
    summary.hidden = unplaced.length === 0;
  }
  return errors.length;
}

export function clearErrors(form) {
  for (const control of form.querySelectorAll("[error]")) control.removeAttribute("error");
  const summary = form.querySelector("[data-error-summary]");
  if (summary) summary.hidden = true;
}

/** Save `form` (a <form data-save-bar>) through the API: `toBody(formData, form)` builds the
 * JSON document, 422 errors land on their fields, success hides the save bar with a toast. */
export function wireForm(form, { url, method = "PUT", toBody, saved = "Saved", onSaved } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, status, data } = await api(url, { method, body: toBody(new FormData(form), form) });
    if (ok) {
      clearErrors(form);
      toast(saved);
      if (onSaved) onSaved(data);
      return;
    }
    if (status === 422 && data && Array.isArray(data.errors)) {
      showErrors(form, data.errors);
      toast("Nothing was saved: please correct the highlighted fields", { isError: true });
    } else {
      toast((data && data.error) || `Could not save (HTTP ${status})`, { isError: true });
    }
  });
  form.addEventListener("reset", () => clearErrors(form));
}
