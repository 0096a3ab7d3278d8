// Development stand-in for Shopify App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js).
//
// It is NOT App Bridge. Outside the Shopify admin there is no admin frame to talk to, so this
// gives the pages the little of `window.shopify` they use, in plain HTML:
//   - idToken(): the session token. A document opened with `?id_token=…` (the development
//     sign-in, or a bounce) keeps it in sessionStorage; idToken() returns it.
//   - toast.show(message, {isError}): a visible role="status" message; every toast shown is kept
//     in `shopify.toast.shown` ({message, isError}) for tests.
//   - saveBar.show/hide/toggle(id) for <ui-save-bar id>, and <form data-save-bar>: a change in the
//     form shows a save bar after it, whose Save submits the form (requestSubmit) and Discard
//     resets it; it hides when the form is submitted or reset, as App Bridge's does.
//   - <s-app-nav>: the app's navigation, shown as a visible nav bar with its links.
//   - the bounce page (/auth/session-token?shopify-reload=URL): reloads URL with the kept token,
//     so following a link between pages works outside Shopify.
// It says on the page that the Polaris look needs Shopify's CDN. Used by the browser tests
// (tests/admin_ui/browser routes the CDN URL here) and by the offline demo (layout.html falls
// back to /dev/stand-ins/app-bridge.js when the CDN script did not define `window.shopify`).
(() => {
  "use strict";

  const TOKEN_KEY = "reclaim-stand-in:id_token";
  const BANNER = "Polaris look needs Shopify's CDN: showing development stand-ins";
  const query = new URLSearchParams(location.search);
  if (query.get("id_token")) sessionStorage.setItem(TOKEN_KEY, query.get("id_token"));
  const storedToken = () => sessionStorage.getItem(TOKEN_KEY) || "";

  // Run `fn` once the body is there (never on a document left before it had one: a bounce).
  const whenParsed = (fn) => {
    const run = () => document.body && fn();
    document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", run) : run();
  };

  function showStandInBanner() {
    whenParsed(() => {
      if (document.getElementById("reclaim-stand-ins")) return;
      const note = document.createElement("p");
      note.id = "reclaim-stand-ins";
      note.setAttribute("role", "note");
      note.textContent = BANNER;
      document.body.prepend(note);
    });
  }

  // --- the bounce page -------------------------------------------------------------------------
  function bounce() {
    const target = new URL(query.get("shopify-reload"), location.href);
    if (storedToken() && target.origin === location.origin) {
      target.searchParams.set("id_token", storedToken());
      location.replace(target.href);
      return;
    }
    whenParsed(() => {
      const why = storedToken() ? `${target.origin} is not this app's origin` : "no session token in this tab";
      const message = document.createElement("p");
      message.setAttribute("role", "alert");
      message.textContent = `Cannot reopen the page (${why}): sign in again through /dev/sign-in?shop=…`;
      document.body.append(message);
    });
  }

  // --- toasts ----------------------------------------------------------------------------------
  const shown = [];

  function toastRegion() {
    let region = document.getElementById("reclaim-toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "reclaim-toasts";
      document.body.append(region);
    }
    return region;
  }

  function showToast(message, { isError = false, duration = 5000 } = {}) {
    const id = `reclaim-toast-${shown.length + 1}`;
    shown.push({ message: String(message), isError: Boolean(isError) });
    whenParsed(() => {
      const toast = document.createElement("div");
      toast.id = id;
      toast.className = isError ? "error" : "";
      toast.setAttribute("role", "status");
      toast.textContent = String(message);
      toastRegion().append(toast);
      setTimeout(() => toast.remove(), duration);
    });
    return id;
  }

  // --- save bars -------------------------------------------------------------------------------
  const formBars = new WeakMap();

  function formBar(form) {
    let bar = formBars.get(form);
    if (bar) return bar;
    bar = document.createElement("div");
    bar.className = "reclaim-save-bar";
    bar.setAttribute("role", "region");
    bar.setAttribute("aria-label", "Unsaved changes");
    bar.hidden = true;
    bar.innerHTML = '<span>Unsaved changes</span><button type="button">Discard</button><button type="button">Save</button>';
    const [discard, save] = bar.querySelectorAll("button");
    save.addEventListener("click", () => form.requestSubmit());
    discard.addEventListener("click", () => {
      if (form.hasAttribute("data-discard-confirmation") && !confirm("Discard all unsaved changes?")) return;
      form.reset();
    });
    form.addEventListener("submit", () => (bar.hidden = true));
    form.addEventListener("reset", () => (bar.hidden = true));
    form.after(bar);
    formBars.set(form, bar);
    return bar;
  }

  function onEdit(event) {
    const form = event.target instanceof Element ? event.target.closest("form[data-save-bar]") : null;
    if (form) formBar(form).hidden = false;
  }
  document.addEventListener("input", onEdit, true);
  document.addEventListener("change", onEdit, true);

  class UISaveBar extends HTMLElement {
    get showing() {
      return this.hasAttribute("data-showing");
    }
    async show() {
      this.setAttribute("data-showing", "");
    }
    async hide() {
      this.removeAttribute("data-showing");
    }
    async toggle() {
      this.toggleAttribute("data-showing");
    }
  }

  const saveBarById = (id) => {
    const bar = document.getElementById(id);
    return bar instanceof UISaveBar ? bar : null;
  };

  // --- the app's navigation --------------------------------------------------------------------
  // The element itself is the navigation landmark (its links stay its own children).
  class AppNav extends HTMLElement {
    connectedCallback() {
      if (this.shadowRoot) return;
      this.setAttribute("role", "navigation");
      this.setAttribute("aria-label", "App");
      this.attachShadow({ mode: "open" }).innerHTML =
        "<style>:host{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:.6rem 1rem;background:#1a1a1a}" +
        "::slotted(a){color:#fff;text-decoration:none}::slotted(a[aria-current]){text-decoration:underline}</style>" +
        "<slot></slot>";
      whenParsed(() => {
        for (const link of this.querySelectorAll("a[href]")) {
          if (new URL(link.href).pathname === location.pathname) link.setAttribute("aria-current", "page");
        }
      });
    }
  }

  // --- window.shopify --------------------------------------------------------------------------
  const apiKey = document.querySelector('meta[name="shopify-api-key"]')?.content || "";
  window.shopify = {
    config: { apiKey, shop: query.get("shop") || undefined, locale: navigator.language },
    origin: location.origin,
    environment: { embedded: false, mobile: false, pos: false },
    ready: Promise.resolve(),
    idToken: async () => storedToken(),
    loading: () => {},
    toast: { show: showToast, hide: (id) => document.getElementById(id)?.remove(), shown },
    saveBar: {
      show: async (id) => saveBarById(id)?.show(),
      hide: async (id) => saveBarById(id)?.hide(),
      toggle: async (id) => saveBarById(id)?.toggle(),
      leaveConfirmation: async () => {},
    },
  };

  const style = document.createElement("style");
  style.textContent = `
    #reclaim-stand-ins { margin: 0; padding: .4rem 1rem; background: #fff4d6; font: 13px system-ui, sans-serif; }
    #reclaim-toasts { position: fixed; bottom: 1rem; left: 50%; transform: translateX(-50%); display: grid; gap: .5rem; }
    #reclaim-toasts > div { padding: .6rem 1rem; border-radius: .5rem; background: #1a1a1a; color: #fff; }
    #reclaim-toasts > div.error { background: #8e1f0b; }
    .reclaim-save-bar { position: sticky; bottom: 0; display: flex; gap: .75rem; align-items: center;
      padding: .6rem 1rem; background: #1a1a1a; color: #fff; }
    .reclaim-save-bar[hidden] { display: none; }
    .reclaim-save-bar span { flex: 1; }
    ui-save-bar:not([data-showing]) { display: none; }
    ui-save-bar { position: sticky; bottom: 0; display: flex; gap: .75rem; padding: .6rem 1rem; background: #1a1a1a; }`;
  document.head.append(style);

  customElements.define("s-app-nav", AppNav);
  customElements.define("ui-save-bar", UISaveBar);
  if (location.pathname === "/auth/session-token" && query.has("shopify-reload")) bounce();
  showStandInBanner();
})();
