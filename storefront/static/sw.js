/* Reclaim service worker: shows the cart reminder and opens the cart on click.
 *
 * Registered by the theme app embed's script (extensions/reclaim-push/assets/reclaim-push.js)
 * at {proxy}/sw.js with scope {proxy}/; it controls no page and handles no fetches. The app
 * sends JSON {title, body, url, tag}; a newer reminder with the same tag replaces an older one.
 */
var CONFIG = __RECLAIM_CONFIG__;

self.addEventListener('install', function () { self.skipWaiting(); });

self.addEventListener('activate', function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener('push', function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || 'Your cart is waiting', {
    body: data.body || '',
    tag: data.tag || 'reclaim',
    data: { url: data.url || '/' }
  }));
});

self.addEventListener('notificationclick', function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || '/';
  if (!/^(https?:\/\/|\/)/.test(url)) { url = '/'; }  // only web links, never javascript: and friends
  event.waitUntil(self.clients.openWindow(url));
});

// The browser replaced the subscription (keys rotated or expired): subscribe again with
// the same key and tell the app, for the cart this browser has now.
self.addEventListener('pushsubscriptionchange', function (event) {
  var bytes = Uint8Array.from(atob(CONFIG.vapidKey.replace(/-/g, '+').replace(/_/g, '/')), function (c) {
    return c.charCodeAt(0);
  });
  event.waitUntil(
    self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes })
      .then(function (sub) {
        return fetch('/cart.js', { credentials: 'same-origin' }).then(function (r) { return r.json(); })
          .then(function (cart) {
            if (!cart.token) { return; }
            return fetch(CONFIG.proxy + '/subscribe', {
              method: 'POST',
              credentials: 'same-origin',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ subscription: sub.toJSON(), cart_token: cart.token })
            });
          });
      })
  );
});
