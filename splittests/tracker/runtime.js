/*
 * Humblytics split tests: the part of the per-site /js/script.js?site=DOMAIN that runs before the core tracker.
 *
 * The server (splittests/delivery.py) answers that URL with
 *     (function () { <this file, minified>; if (humblyticsSplit(CONFIG)) return; <the core tracker> })();
 * where CONFIG = {t: [{i: test id, p: control path, a: assigned variant id or null (not in the test),
 *                     k: "c" control | "r" redirect | "n" no-code, u: redirect URL, x: [[selector, action, name,
 *                     value]], r: {variant id: redirect URL}}]}
 * already decided for this visitor: nothing is stored in the browser (no cookie, no storage), so the assignment
 * comes from the server, which derives it from the cookie-free visitor id (user-level) or the visit (session-level).
 * Returning true skips the core tracker: the page is being redirected, so its page view must not count.
 *
 * Install it synchronously (no defer, no async) high in <head>, so it runs before anything paints:
 *     <script src="https://HOST/js/script.js?site=example.com" data-domain="example.com"></script>
 *
 * - Redirect variants: the page is hidden and replaced (location.replace) at once, carrying the assignment in a
 *   short-lived query parameter hx_t=<test>.<variant>.<expiry, unix s> (and the original referrer in hx_r); the
 *   variant page strips both from its URL before the core tracker reads it, restores document.referrer, links
 *   rel=canonical to the control, and records the exposure.
 * - No-code variants: <html> is hidden, changes are applied as the elements are parsed and once more at
 *   DOMContentLoaded, then the page is shown; a hard timeout of 300 ms shows it whatever happens.
 * - Bots, crawlers, headless and automated browsers (navigator.webdriver) and opted-out visitors never enter tests.
 * - SPA navigation (pushState, replaceState, popstate) to a test page runs that test too.
 * - Each exposure is POSTed to /api/exposure as {t: test, x: variant, v: view id, d: domain, u: URL} once the
 *   core tracker has made the page view's id.
 *
 * splittests/tracker/build.mjs minifies it into splittests/tracker/dist/runtime.js, the file that is served
 * (`make build-tracker`; tests/splittests/test_runtime_build.py fails when the build is stale).
 */
var humblyticsSplit = function (C) {
  'use strict';
  var w = window;
  var d = document;
  var loc = location;
  var nav = navigator;
  var de = d.documentElement;
  var script = d.currentScript;
  var api = (script && script.src ? new URL(script.src).origin : '') + '/api/exposure';
  var domain = (script && script.getAttribute('data-domain')) || loc.hostname;
  var NOCHANGE = /^(script|style|base|meta|link|iframe|frame|object|embed|template|noscript)$/i;
  var BOT = /bot|crawl|spider|slurp|headless|lighthouse|preview|facebookexternalhit|phantomjs|puppeteer|playwright/i;
  var S = (w.HumblyticsSplit = { variant: {} });
  var tests = C.t || [];
  var pending = [];
  var hiding = null;

  function ignored() {
    return w.humblytics_ignore === true || de.hasAttribute('data-humblytics-ignore');
  }
  var out = nav.webdriver || BOT.test(nav.userAgent) || ignored();

  function norm(path) {
    return path.replace(/\/+$/, '') || '/';
  }

  function hide() {
    if (hiding) return;
    hiding = d.createElement('style');
    hiding.textContent = 'html{opacity:0!important}';
    (d.head || de).appendChild(hiding);
  }

  function reveal() {
    if (hiding) hiding.remove();
    hiding = null;
  }

  function send(body) {
    if (ignored()) return;
    var text = JSON.stringify(body);
    try {
      // credentials omitted: served through the site's own origin (a proxy), the site's cookies would go along.
      fetch(api, {
        method: 'POST',
        keepalive: true,
        credentials: 'omit',
        body: text,
        headers: { 'Content-Type': 'text/plain' },
      }).catch(function () {});
    } catch (e) {
      try {
        nav.sendBeacon(api, new Blob([text], { type: 'text/plain' }));
      } catch (e2) {}
    }
  }

  // After the current script (and so the core tracker's new view id) is done; a prerendered page only once it is
  // really shown, as the core tracker counts its page view.
  function flush() {
    var H = w.Humblytics;
    if (!H || !H.viewId) return;
    if (d.prerendering) {
      d.addEventListener('prerenderingchange', flush, { once: true });
      return;
    }
    pending.splice(0).forEach(function (e) {
      send({ t: e[0], x: e[1], v: H.viewId, d: domain, u: loc.href });
    });
  }

  function expose(test, variant) {
    S.variant[test] = variant;
    pending.push([test, variant]);
    setTimeout(flush, 0);
  }

  function go(test) {
    hide();
    var target = new URL(test.u, loc.href);
    new URLSearchParams(loc.search).forEach(function (value, key) {
      if (!target.searchParams.has(key)) target.searchParams.append(key, value);
    });
    target.searchParams.set('hx_t', test.i + '.' + test.a + '.' + (Math.floor(Date.now() / 1000) + 60));
    if (d.referrer) target.searchParams.set('hx_r', d.referrer);
    if (!target.hash) target.hash = loc.hash;
    loc.replace(target.href);
  }

  function change(list, early) {
    function apply() {
      list.forEach(function (c) {
        var els;
        try {
          els = d.querySelectorAll(c[0]);
        } catch (e) {
          return;
        }
        for (var i = 0; i < els.length; i++) {
          var el = els[i];
          // Never an element that runs or loads code or re-points the page's URLs (a script's text, a base href):
          // the server refuses script-like values, this keeps a broad selector from reaching one.
          if (NOCHANGE.test(el.tagName)) continue;
          // Only when different: a change is itself a mutation, and the observer must not loop on it.
          if (c[1] === 'text') {
            if (el.textContent !== c[3]) el.textContent = c[3];
          } else if (c[1] === 'attr') {
            if (el.getAttribute(c[2]) !== c[3]) el.setAttribute(c[2], c[3]);
          } else if (el.style.getPropertyValue(c[2]) !== c[3]) {
            el.style.setProperty(c[2], c[3], 'important');
          }
        }
      });
    }
    var observer = new MutationObserver(apply);
    observer.observe(de, { childList: true, subtree: true });
    apply();
    function done() {
      apply();
      if (performance.mark) performance.mark('humblytics-split-applied');
      reveal();
      setTimeout(function () {
        observer.disconnect();
      }, 3000);
    }
    if (early && d.readyState === 'loading') {
      hide();
      setTimeout(reveal, 300);
      d.addEventListener('DOMContentLoaded', done);
    } else {
      done();
    }
  }

  // The tests of the current path; true when the page is being redirected away.
  function run(early) {
    if (out) return false;
    var path = norm(loc.pathname);
    for (var i = 0; i < tests.length; i++) {
      var test = tests[i];
      if (norm(test.p) !== path || test.a == null) continue;
      if (test.k === 'r') {
        go(test);
        return true;
      }
      if (test.k === 'n') change(test.x, early);
      expose(test.i, test.a);
    }
    return false;
  }

  function canonical(path) {
    var link = d.createElement('link');
    link.rel = 'canonical';
    link.href = new URL(path, loc.href).href;
    (d.head || de).appendChild(link);
    d.addEventListener('DOMContentLoaded', function () {
      d.querySelectorAll('link[rel=canonical]').forEach(function (other) {
        if (other !== link) other.remove();
      });
    });
  }

  // Arrived on a redirect variant: check the token, clean the URL, then count the exposure on this view.
  var params = new URLSearchParams(loc.search);
  var token = params.get('hx_t');
  var landed = false;
  if (token !== null) {
    var referrer = params.get('hx_r');
    params.delete('hx_t');
    params.delete('hx_r');
    var query = params.toString();
    history.replaceState(history.state, '', loc.pathname + (query ? '?' + query : '') + loc.hash);
    var parts = token.split('.');
    tests.forEach(function (test) {
      var url = test.r[parts[1]];
      if (
        !out &&
        !landed &&
        String(test.i) === parts[0] &&
        url &&
        norm(new URL(url, loc.href).pathname) === norm(loc.pathname) &&
        +parts[2] * 1000 > Date.now()
      ) {
        landed = true;
        if (referrer) {
          Object.defineProperty(d, 'referrer', {
            configurable: true,
            get: function () {
              return referrer;
            },
          });
        }
        canonical(test.p);
        expose(test.i, +parts[1]);
      }
    });
  }

  var leaving = !landed && run(true);

  var last = norm(loc.pathname);
  function navigated() {
    var path = norm(loc.pathname);
    if (path === last) return;
    last = path;
    // Leaving from an SPA route: the core tracker's page view for it must not be sent either.
    if (run(false)) w.humblytics_ignore = true;
  }
  ['pushState', 'replaceState'].forEach(function (method) {
    var original = history[method];
    history[method] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  });
  w.addEventListener('popstate', navigated);

  return leaving;
};
