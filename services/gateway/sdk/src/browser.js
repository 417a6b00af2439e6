// Script-tag entry, built to tme.js:
//   <script defer src="https://YOUR-HOST/sdk/tme.js" data-write-key="KEY"></script>
// Events go to the origin this script was loaded from. Options as attributes:
//   data-respect-dnt      honour the browser's Do-Not-Track / Global Privacy Control
//   data-auto-page="false" no automatic page views (call tme.page() yourself)
// Calls made before the script ran (window.tme = window.tme || []; tme.push(["track", ...]))
// are replayed.
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
  if (Array.isArray(pending)) {
    pending.forEach((call) => {
      if (call && typeof tme[call[0]] === "function") tme[call[0]].apply(tme, call.slice(1));
    });
  }
})(window);
