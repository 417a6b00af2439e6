// How the dashboard shows a dimension's value (a breakdown row, a filter chip, an event's details).
// Filters always keep the raw value the API stores; only its label changes.

/** Segment's and RudderStack's library names (context.library.name) as a person knows them. */
const LIBRARIES: Record<string, string> = {
  "tme.js": "Web SDK (tme.js)",
  "analytics.js": "Segment web (analytics.js)",
  "analytics-python": "Segment Python",
  "analytics-node": "Segment Node",
  "@segment/analytics-node": "Segment Node",
  "analytics-ios": "Segment iOS",
  "analytics-swift": "Segment iOS",
  "analytics-android": "Segment Android",
  "analytics-kotlin": "Segment Android",
  http: "HTTP API (no library)",
};

const SCREENS: Record<string, string> = { mobile: "Mobile", tablet: "Tablet", laptop: "Laptop", desktop: "Desktop" };

/** The sending library's friendly name; a name we do not know is shown as sent. */
export function libraryLabel(name: string): string {
  if (LIBRARIES[name]) return LIBRARIES[name];
  if (/^rudder/i.test(name)) return `RudderStack (${name})`;
  return name;
}

/** The label of `value` in dimension `field` (the value itself for most dimensions). */
export function valueLabel(field: string, value: string): string {
  if (field === "library") return libraryLabel(value);
  if (field === "screen") return SCREENS[value] || value;
  return value;
}

/** The label with the raw value beside it, unless the label already shows it:
 * "Segment Python (analytics-python)", "Web SDK (tme.js)", "Firefox". */
export function labelAndValue(field: string, value: string): string {
  const label = valueLabel(field, value);
  return label.toLowerCase().includes(value.toLowerCase()) ? label : `${label} (${value})`;
}
