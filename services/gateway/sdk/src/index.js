// npm entry:  import { init } from "tme-js";  const tme = init({ writeKey, host });
import { createTracker } from "./core.js";

export { createTracker, VERSION } from "./core.js";

/**
 * Start tracking in this browser page.
 * @param {{writeKey: string, host: string, respectDnt?: boolean, autoPage?: boolean}} options
 */
export function init(options) {
  if (typeof window === "undefined") throw new Error("tme: init() runs in a browser (no window here)");
  return createTracker(options || {}, window);
}

export default init;
