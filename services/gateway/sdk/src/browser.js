// Script-tag entry, built to tme.js:
//   <script defer src="https://YOUR-HOST/sdk/tme.js" data-write-key="KEY"></script>
// Events go to the origin this script was loaded from. Options as attributes:
//   data-respect-dnt      honour the browser's Do-Not-Track / Global Privacy Control
//   data-auto-page="false" no automatic page views (call tme.page() yourself)
// Calls made before the script ran (window.tme = window.tme || []; tme.push(["track", ...]))
// are replayed. Pages written for the original Track My Events' inline snippet keep working:
// window.__trk.setUserId(id) and window.__trk.trackEvent({eventName, context}) are answered too.
import { createTracker } from "./core.js";

(function (w) {
  const d = w.document;
  const s = d.currentScript || d.querySelector("script[data-write-key]");
  const key = s && s.getAttribute("data-write-key");
  if (!key) {
    if (w.console) w.console.warn("tme.js: add data-write-key=\"YOUR_WRITE_KEY\" to the script tag");
    return;
  }
  const flag = (name) => s.hasAttribute(name) && s.getAttribute(name) !== "false";
  const pending = w.tme;
  const tme = createTracker(
    {
      writeKey: key,
      host: new URL(s.src, w.location.href).origin,
      respectDnt: flag("data-respect-dnt"),
      autoPage: s.getAttribute("data-auto-page") !== "false",
    },
    w,
  );
  w.tme = tme;
  // the original snippet's API: setUserId names the visitor (identify; null or "" forgets them, as
  // reset does on log-out); trackEvent sends an event with its context as the properties (PAGE_VIEW,
  // the snippet's page view name, is a page view) and returns a promise, as the snippet's fetch did
  w.__trk = {
    setUserId: (id) => (id == null || id === "" ? tme.reset() : tme.identify(id)),
    trackEvent: (e) => {
      try {
        e = e || {};
        if (e.eventName === "PAGE_VIEW") tme.page(e.context);
        else tme.track(e.eventName, e.context);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
  if (Array.isArray(pending)) {
    pending.forEach((call) => {
      if (call && typeof tme[call[0]] === "function") tme[call[0]].apply(tme, call.slice(1));
    });
  }
})(window);
