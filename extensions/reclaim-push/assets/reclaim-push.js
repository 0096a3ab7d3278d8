/* Reclaim: offer a browser reminder for the shopper's cart.
 *
 * An asset of the theme app extension (extensions/reclaim-push): the app embed block loads it
 * from Shopify's CDN, never from the app. Its one setting, the app proxy path (e.g.
 * "/apps/reclaim"), comes from the JSON element the block writes (#reclaim-push-config).
 * It talks to the app only through the app proxy, and only to subscribe: {proxy}/push-key (the
 * VAPID public key), {proxy}/sw.js (the service worker) and {proxy}/subscribe.
 *
 * Never asks on page load: a small in-page offer appears only once the cart has items,
 * and the browser's permission prompt opens only when the shopper clicks "Remind me".
 * A "No thanks" (or a dismissed browser prompt) is remembered and never asked again.
 */
(function (config) {
  'use strict';

  var DECLINED = 'reclaim:push-declined';
  var SENT_FOR = 'reclaim:push-cart';  // the cart token last sent to the app (set only after a yes)

  if (!/^(\/[A-Za-z0-9_.-]{1,40}){1,4}$/.test(config.proxy || '')) {
    return;  // no usable proxy path in the block's setting: nothing to subscribe through
  }
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) {
    return;  // this browser cannot receive web push (e.g. iOS Safari outside a home-screen app)
  }

  function remembered(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function remember(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: ask again next time */ }
  }

  function cartUrl() {
    var root = (window.Shopify && window.Shopify.routes && window.Shopify.routes.root) || '/';
    return root + 'cart.js';
  }

  function readCart() {
    return fetch(cartUrl(), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) { return response.json(); });
  }

  function keyBytes(base64url) {
    var padded = base64url.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((base64url.length + 3) % 4);
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  // The worker's scope is the proxy path, so it never controls a storefront page and
  // navigator.serviceWorker.ready would wait forever: wait for this registration instead.
  function activated(registration) {
    var worker = registration.installing || registration.waiting;
    if (registration.active || !worker) { return Promise.resolve(registration); }
    return new Promise(function (resolve) {
      worker.addEventListener('statechange', function () {
        if (worker.state === 'activated') { resolve(registration); }
      });
    });
  }

  // The app's VAPID public key, asked for only when there is something to subscribe.
  function vapidKey() {
    return fetch(config.proxy + '/push-key', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) { return response.json(); })
      .then(function (body) { return body.vapidKey; });
  }

  function subscription() {
    return navigator.serviceWorker.register(config.proxy + '/sw.js', { scope: config.proxy + '/' })
      .then(activated)
      .then(function (registration) {
        return registration.pushManager.getSubscription().then(function (existing) {
          return existing || vapidKey().then(function (key) {
            return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
          });
        });
      });
  }

  function send(cartToken) {
    return subscription().then(function (sub) {
      return fetch(config.proxy + '/subscribe', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ subscription: sub.toJSON(), cart_token: cartToken })
      });
    }).then(function (response) {
      if (response.ok) { remember(SENT_FOR, cartToken); }
    });
  }

  function offer(cartToken) {
    var box = document.createElement('div');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', 'Cart reminder');
    box.style.cssText = 'position:fixed;bottom:16px;left:16px;z-index:2147483000;max-width:320px;padding:12px 14px;' +
      'background:#fff;color:#111;border:1px solid #ccc;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.15);' +
      'font:14px/1.4 system-ui,sans-serif';
    var text = document.createElement('p');
    text.style.margin = '0 0 8px';
    text.textContent = 'Want a reminder about your cart if you leave? We can send a browser notification.';
    var yes = document.createElement('button');
    yes.type = 'button';
    yes.textContent = 'Remind me';
    yes.style.marginRight = '8px';
    var no = document.createElement('button');
    no.type = 'button';
    no.textContent = 'No thanks';
    box.appendChild(text);
    box.appendChild(yes);
    box.appendChild(no);

    no.addEventListener('click', function () {
      remember(DECLINED, String(Date.now()));
      box.remove();
    });
    yes.addEventListener('click', function () {
      box.remove();
      // Asked straight from the click: browsers only show the prompt for a user gesture.
      Notification.requestPermission().then(function (permission) {
        if (permission === 'granted') { return send(cartToken); }
        remember(DECLINED, String(Date.now()));
      }).catch(function () { /* no reminder; the shop works as before */ });
    });
    document.body.appendChild(box);
  }

  function start() {
    if (Notification.permission === 'denied' || remembered(DECLINED)) { return; }
    readCart().then(function (cart) {
      if (!cart || !cart.token || !cart.item_count) { return; }
      var sentFor = remembered(SENT_FOR);
      if (sentFor) {
        // The shopper said yes on an earlier visit: tell the app about a new cart, once.
        // (A permission granted for another purpose is not a yes to cart reminders.)
        if (sentFor !== cart.token && Notification.permission === 'granted') { return send(cart.token); }
        return;
      }
      offer(cart.token);
    }).catch(function () { /* the cart could not be read: offer nothing */ });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})((function () {
  var element = document.getElementById('reclaim-push-config');
  try { return JSON.parse(element ? element.textContent : '{}') || {}; } catch (e) { return {}; }
})());
