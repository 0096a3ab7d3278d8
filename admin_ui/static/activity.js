// /activity: the search form navigates to /activity with only the filters that have a value
// (Polaris fields are read through their `value`, whether or not the browser submits them as
// form fields). Everything else on the page is rendered on the server; paging is plain links.

function valueOf(form, name) {
  const field = form.querySelector(`[name="${name}"]`);
  if (!field) return "";
  const value = field.value ?? field.getAttribute("value") ?? "";
  return String(value).trim();
}

export function filterUrl(form) {
  const url = new URL(form.getAttribute("action") || "/activity", window.location.href);
  for (const name of ["q", "status", "flow"]) {
    const value = valueOf(form, name);
    if (value) url.searchParams.set(name, value);
  }
  const shop = new URLSearchParams(window.location.search).get("shop");
  if (shop) url.searchParams.set("shop", shop);
  return url.pathname + url.search;
}

const form = document.querySelector("form[data-activity-filter]");
if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.assign(filterUrl(form));
  });
  // A Polaris <s-button type="submit"> submits its form; pressing Enter in the search field does too.
  form.querySelector("#activity-search")?.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}
