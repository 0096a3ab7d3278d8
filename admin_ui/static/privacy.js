// /privacy: lifting a suppression (after the confirmation in the modal) and downloading a
// data-request export. Both go through the JSON API with the session token.
import { api, toast } from "/admin-assets/admin.js";

const modal = document.getElementById("lift-modal");
let chosen = null; // the Lift… button whose suppression the modal is about

function hideModal() {
  if (modal && typeof modal.hideOverlay === "function") modal.hideOverlay();
}

for (const button of document.querySelectorAll("[data-lift]")) {
  button.addEventListener("click", () => {
    chosen = button;
    if (!modal) return;
    modal.querySelector("[data-lift-address]").textContent = button.dataset.address || "";
    modal.querySelector("[data-lift-channel]").textContent = button.dataset.channel || "";
  });
}

export async function lift(id) {
  return api(`/api/suppressions/${encodeURIComponent(id)}/lift`, { method: "POST", body: { confirm: true } });
}

document.querySelector("[data-lift-confirm]")?.addEventListener("click", async () => {
  if (!chosen) return;
  const button = chosen;
  const { ok, data, status } = await lift(button.dataset.lift);
  hideModal();
  chosen = null;
  if (ok) {
    const cell = button.closest("[data-lift-cell]");
    if (cell) cell.textContent = "Lifted (no consent given)";
    toast("Suppression lifted. No consent was given.");
  } else {
    toast((data && data.error) || `Could not lift it (HTTP ${status})`, { isError: true });
  }
});

/** Fetch one export with the session token and save it as a file. */
export async function download(id) {
  const token = await window.shopify.idToken();
  const response = await fetch(`/api/exports/${encodeURIComponent(id)}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
  });
  if (!response.ok) {
    toast(`Could not download the export (HTTP ${response.status})`, { isError: true });
    return;
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || `data-request-${id}.json`;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

for (const button of document.querySelectorAll("[data-export]")) {
  button.addEventListener("click", () => download(button.dataset.export));
}
