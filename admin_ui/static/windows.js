// The delivery windows form (/settings/windows): per weekday a list of "HH:MM–HH:MM" fields,
// added and removed here. Each field is named by its path in the settings document
// (delivery_windows.days.mon[0]), renumbered after every change, so the server's message
// for an interval (one crossing midnight, say) lands on that field. Saving goes through
// flows.js's settings form: the whole document, the intervals read from the fields.
import { overlay, wireSettingsForm } from "/admin-assets/flows.js";

const DASH = "\u2013";

/** "09:00–17:00" (or with "-" / "—") → ["09:00", "17:00"]; anything else goes to the server
 * as written, which says what is wrong with it. */
export function parseInterval(text) {
  const parts = text.trim().split(/\s*[-\u2013\u2014]\s*/);
  return parts.length === 2 ? parts : [text.trim(), ""];
}

function dayOf(row) {
  return { key: row.dataset.day, name: row.dataset.dayName };
}

function fieldsOf(row) {
  return [...row.querySelectorAll("[data-interval]")];
}

/** Name and label every interval of a day by its position, and show "Closed" when none. */
function renumber(row) {
  const { key, name } = dayOf(row);
  fieldsOf(row).forEach((interval, index) => {
    const field = interval.querySelector("s-text-field");
    field.setAttribute("name", `delivery_windows.days.${key}[${index}]`);
    field.setAttribute("label", `${name}, window ${index + 1}`);
    const remove = interval.querySelector("[data-remove-interval]");
    remove.setAttribute("accessibilityLabel", `Remove ${name} window ${index + 1}`);
  });
  row.querySelector("[data-closed]").hidden = fieldsOf(row).length > 0;
}

function intervalElement(text) {
  const interval = document.createElement("s-stack");
  interval.setAttribute("direction", "inline");
  interval.setAttribute("gap", "small");
  interval.setAttribute("alignItems", "end");
  interval.dataset.interval = "";
  const field = document.createElement("s-text-field");
  field.setAttribute("value", text);
  field.setAttribute("placeholder", `09:00${DASH}17:00`);
  field.setAttribute("details", `HH:MM${DASH}HH:MM, ending by 24:00`);
  const remove = document.createElement("s-button");
  remove.setAttribute("type", "button");
  remove.setAttribute("variant", "tertiary");
  remove.setAttribute("icon", "delete");
  remove.dataset.removeInterval = "";
  remove.textContent = "Remove";
  interval.append(field, remove);
  return interval;
}

function changed(form) {
  form.dispatchEvent(new Event("change", { bubbles: true })); // the save bar notices
}

/** Show `days` ({"mon": [["09:00", "21:00"]], ...}) in the day rows. */
function showDays(form, days) {
  for (const row of form.querySelectorAll("[data-day]")) {
    const list = row.querySelector("[data-intervals]");
    for (const interval of fieldsOf(row)) interval.remove();
    const closed = row.querySelector("[data-closed]");
    for (const [start, end] of days[row.dataset.day] || []) {
      list.insertBefore(intervalElement(`${start}${DASH}${end}`), closed);
    }
    renumber(row);
  }
}

/** The settings document: the base with the form's controls and every day's intervals. */
export function windowsDocument(base, form) {
  const doc = overlay(base, form);
  const days = {};
  for (const row of form.querySelectorAll("[data-day]")) {
    days[row.dataset.day] = fieldsOf(row).map((interval) => {
      const field = interval.querySelector("s-text-field");
      return parseInterval(String(field.value ?? field.getAttribute("value") ?? ""));
    });
  }
  doc.delivery_windows.days = days;
  return doc;
}

function wire(form) {
  form.addEventListener("click", (event) => {
    const row = event.target.closest("[data-day]");
    if (!row) return;
    if (event.target.closest("[data-add-interval]")) {
      const closed = row.querySelector("[data-closed]");
      const interval = intervalElement("");
      row.querySelector("[data-intervals]").insertBefore(interval, closed);
      renumber(row);
      changed(form);
      interval.querySelector("s-text-field").focus?.();
    } else if (event.target.closest("[data-remove-interval]")) {
      event.target.closest("[data-interval]").remove();
      renumber(row);
      changed(form);
    }
  });
  const saved = wireSettingsForm(form, {
    toDocument: windowsDocument,
    onSaved: (doc) => showDays(form, doc.delivery_windows.days),
  });
  // The save bar's discard resets the Polaris controls; the interval rows are ours to restore.
  form.addEventListener("reset", () => setTimeout(() => showDays(form, saved().delivery_windows.days)));
}

const windowsForm = document.getElementById("windows-form");
if (windowsForm) wire(windowsForm);
