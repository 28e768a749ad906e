/*
 * Humblytics tracker: cookie-free page views, custom events and engagement.
 *
 *   <script defer data-domain="example.com" src="https://HOST/js/script.js"></script>
 *
 * Options on the script tag:
 *   data-domain             the site's domain as registered in Humblytics (default: location.hostname)
 *   data-api                where events are POSTed (default: the script's own origin + /api/event)
 *   data-hash               hash-based routing: a hash change is a new page view, URLs keep their #fragment
 *   data-outbound           send "Outbound Link: Click" (prop url) for links to other hosts
 *   data-downloads          send "File Download" (prop url, without query string) for links to common files
 *   data-include-localhost  also count localhost, 127.*, [::1], *.local(host) and file: pages
 *
 * Opt-out: the site sets `window.humblytics_ignore = true` or `<html data-humblytics-ignore>`; both are read
 * before every send, so they may be set at any time. We do not read DNT or Global Privacy Control: nothing here
 * identifies a visitor (no cookie, no storage, no fingerprint), so there is nothing for them to switch off.
 *
 * Stores nothing in the browser: no cookie, localStorage, sessionStorage or IndexedDB. The only state is the
 * in-memory view below, gone with the page. Bots are left to the server (navigator.webdriver is not checked,
 * so automated browsers, our own tests among them, are tracked like anyone else).
 *
 * The public surface is `window.Humblytics = {viewId, track}`; `viewId` is there as soon as this file has run
 * and changes with every page view (including SPA navigations). The queue stubs
 *   window.humblytics = window.humblytics || function () { (window.humblytics.q = window.humblytics.q || []).push(arguments) }
 *   window.plausible  = window.plausible  || function () { (window.plausible.q  = window.plausible.q  || []).push(arguments) }
 * are replayed and then replaced, so both names call track(name, {props, revenue, interactive, callback}).
 *
 * Payloads (JSON sent as text/plain, which needs no CORS preflight):
 *   pageview    {n:"pageview", u, d, r, w, v, h?}
 *   custom      {n:name, u, d, r, w, v, p?:{k:"string"}, $?:{amount, currency}, i, h?}
 *   engagement  {n:"engagement", u, d, v, sd:0-100, e:ms, i:false, h?}   once per view, when it ends
 * where u = URL, d = domain, r = referrer or null, w = innerWidth, v = viewId, h:1 = hash mode.
 *
 * The build (scripts/build_tracker.sh) minifies this file with terser into tracking/tracker/dist/script.js,
 * the file that is served; tests/tracking/test_script_build.py fails when that build is stale.
 */
(function () {
  'use strict';

  var w = window;
  var d = document;
  var loc = location;
  var nav = navigator;

  // Loaded twice? The first copy keeps working; the second does nothing.
  if (w.Humblytics && w.Humblytics.track) return;

  var script = d.currentScript || d.querySelector('script[data-domain]') || d.createElement('script');
  var attr = function (name) {
    return script.getAttribute('data-' + name);
  };
  var has = function (name) {
    return script.hasAttribute('data-' + name);
  };

  var domain = attr('domain') || loc.hostname;
  var api = attr('api') || (script.src ? new URL(script.src).origin : '') + '/api/event';
  var hashMode = has('hash');

  var DOWNLOAD = /\.(pdf|xlsx?|docx?|pptx?|pps|txt|rtf|csv|key|exe|dmg|pkg|msi|apk|iso|7z|rar|gz|tgz|zip|avi|mov|mp4|mpe?g|wmv|mkv|midi?|mp3|wav|wma|flac|epub)$/i;

  // --- Sending -------------------------------------------------------------------------------

  function ignored() {
    if (w.humblytics_ignore === true || d.documentElement.hasAttribute('data-humblytics-ignore')) return 'opt-out';
    if (
      !has('include-localhost') &&
      (loc.protocol === 'file:' || /^(localhost|127(\.\d+){3}|\[::1\])$|\.local(host)?$/.test(loc.hostname))
    ) {
      return 'localhost';
    }
  }

  // keepalive lets the request outlive the page, so a click that navigates away is never held up; where
  // fetch is missing or refuses the request synchronously, sendBeacon takes over. A rejected fetch is not
  // retried by beacon: the server may well have received it (e.g. a CORS error on the response).
  function send(payload, callback) {
    var reason = ignored();
    if (reason) {
      console.warn('Humblytics: ignoring ' + payload.n + ' (' + reason + ')');
    } else {
      if (hashMode) payload.h = 1;
      var body = JSON.stringify(payload);
      try {
        fetch(api, { method: 'POST', keepalive: true, body: body, headers: { 'Content-Type': 'text/plain' } })
          .catch(function () {})
          .then(callback);
        return;
      } catch (e) {
        try {
          nav.sendBeacon(api, new Blob([body], { type: 'text/plain' }));
        } catch (e2) {}
      }
    }
    if (callback) callback();
  }

  // --- The current view ----------------------------------------------------------------------

  var H = (w.Humblytics = {});
  var view; // {u: URL, key: what makes it a new view, sd: max scroll %, e: engaged ms, since, started, ended}

  // 16 random bytes -> 22 characters of base64url: 128 bits nobody can guess.
  function newViewId() {
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function viewKey() {
    return loc.pathname + (hashMode ? loc.hash : '');
  }

  function now() {
    return performance.now();
  }

  function visible() {
    return d.visibilityState === 'visible';
  }

  function scrollPercent() {
    var el = d.documentElement;
    var body = d.body || el;
    var height = Math.max(el.scrollHeight, el.offsetHeight, el.clientHeight, body.scrollHeight, body.offsetHeight);
    return height ? Math.min(100, Math.round(((w.scrollY + w.innerHeight) / height) * 100)) : 0;
  }

  function onScroll() {
    var sd = scrollPercent();
    if (sd > view.sd) view.sd = sd;
  }

  // Engaged time counts only while the page is visible: `since` is when it last became visible, or null.
  function pause() {
    if (view.since != null) view.e += now() - view.since;
    view.since = null;
  }

  function endView() {
    pause();
    if (view.started && !view.ended) {
      view.ended = true;
      onScroll();
      send({ n: 'engagement', u: view.u, d: domain, v: H.viewId, sd: view.sd, e: Math.round(view.e), i: false });
    }
  }

  function base(name) {
    return { n: name, u: loc.href, d: domain, r: d.referrer || null, w: w.innerWidth, v: H.viewId };
  }

  function pageview() {
    view.started = true;
    view.u = loc.href;
    view.since = visible() ? now() : null;
    send(base('pageview'));
  }

  function startView() {
    H.viewId = newViewId();
    view = { key: viewKey(), sd: 0, e: 0, since: null, started: false, ended: false };
    onScroll();
    // A page prerendered by the browser is counted when (and if) the visitor actually opens it.
    if (d.prerendering) d.addEventListener('prerenderingchange', pageview, { once: true });
    else pageview();
  }

  // SPA navigation: a new path (or hash, in hash mode) ends the view and starts a new one.
  function navigated() {
    if (viewKey() === view.key) return;
    endView();
    startView();
  }

  // --- Custom events -------------------------------------------------------------------------

  // track(name, {props: {k: v}, revenue: {amount, currency}, interactive: true, callback})
  function track(name, options) {
    options = options || {};
    if (!name) return;
    var payload = base(String(name));
    var props = options.props;
    if (props) {
      var p = {};
      var any = false;
      for (var k in props) {
        if (props[k] != null) {
          p[k] = String(props[k]);
          any = true;
        }
      }
      if (any) payload.p = p;
    }
    var revenue = options.revenue;
    if (revenue) payload.$ = { amount: revenue.amount, currency: revenue.currency };
    payload.i = options.interactive !== false;
    send(payload, options.callback);
  }
  H.track = track;

  // --- Clicks: tagged elements, outbound links, file downloads ------------------------------

  function onClick(event) {
    // auxclick is any non-primary button; only the middle one opens a link.
    if (event.type === 'auxclick' && event.button !== 1) return;
    var target = event.target;
    if (!target || !target.closest) return;

    var tagged = event.type === 'click' && target.closest('[data-humblytics-event]');
    if (tagged) {
      var props = {};
      var prefix = 'data-humblytics-event-';
      for (var i = 0; i < tagged.attributes.length; i++) {
        var a = tagged.attributes[i];
        if (a.name.indexOf(prefix) === 0) props[a.name.slice(prefix.length)] = a.value;
      }
      track(tagged.getAttribute('data-humblytics-event'), { props: props });
    }

    var link = target.closest('a[href]');
    if (!link || !/^https?:$/.test(link.protocol)) return;
    if (has('downloads') && DOWNLOAD.test(link.pathname)) {
      track('File Download', { props: { url: link.origin + link.pathname } });
    } else if (has('outbound') && link.host !== loc.host) {
      track('Outbound Link: Click', { props: { url: link.href } });
    }
  }

  // --- Wiring --------------------------------------------------------------------------------

  startView();

  d.addEventListener('click', onClick, true);
  d.addEventListener('auxclick', onClick, true);
  w.addEventListener('scroll', onScroll, { passive: true });

  d.addEventListener('visibilitychange', function () {
    if (visible()) {
      if (view.since == null) view.since = now();
    } else {
      endView();
    }
  });
  w.addEventListener('pagehide', endView);
  // Back/forward cache: the page comes back without reloading this script; that is a new page view.
  w.addEventListener('pageshow', function (event) {
    if (event.persisted) startView();
  });

  var history = w.history;
  ['pushState', 'replaceState'].forEach(function (method) {
    var original = history[method];
    history[method] = function () {
      var result = original.apply(this, arguments);
      navigated();
      return result;
    };
  });
  w.addEventListener('popstate', navigated);
  if (hashMode) w.addEventListener('hashchange', navigated);

  // Replay calls queued before this script ran, then answer both names directly.
  ['humblytics', 'plausible'].forEach(function (name) {
    var queue = (w[name] && w[name].q) || [];
    w[name] = function () {
      track.apply(null, arguments);
    };
    for (var i = 0; i < queue.length; i++) track.apply(null, queue[i]);
  });
})();
