import { useMemo, useState } from "react";

import type { Filter } from "../api/types";
import { labelAndValue, valueLabel } from "../dimensionValues";
import { PRESETS, timeZones, todayIn, type DateRange } from "../state/range";
import { useShown } from "./ui";

export const DIMENSION_LABELS: Record<string, string> = {
  event: "Event",
  page: "Page",
  entryPage: "Entry page",
  exitPage: "Exit page",
  url: "URL",
  referrer: "Referrer",
  source: "Source",
  utmSource: "UTM source",
  utmMedium: "UTM medium",
  utmCampaign: "UTM campaign",
  utmTerm: "UTM term",
  utmContent: "UTM content",
  browser: "Browser",
  os: "OS",
  device: "Device",
  screen: "Screen size",
  locale: "Language",
  appVersion: "App version",
  library: "Sent by",
  type: "Type",
  userId: "User id",
  anonymousId: "Anonymous id",
  visitor: "Visitor",
};

export function dimensionLabel(field: string): string {
  if (field.startsWith("prop:")) return `Property ${field.slice(5)}`;
  if (field.startsWith("context:")) return `Context ${field.slice(8)}`;
  return DIMENSION_LABELS[field] || field;
}

const OP_LABELS: Record<string, string> = { eq: "is", neq: "is not", contains: "contains", set: "is set", notset: "is not set" };

/** A filter's value, by its label when it has one (with the raw value in the tooltip). */
function FilterValue({ field, value }: { field: string; value: string }) {
  if (!value) return <strong> (empty)</strong>;
  const label = valueLabel(field, value);
  return <strong title={labelAndValue(field, value) !== label ? value : undefined}> {label}</strong>;
}

export function FilterChips({ filters, onRemove, onClear }: { filters: Filter[]; onRemove: (i: number) => void; onClear: () => void }) {
  if (!filters.length) return null;
  return (
    <div className="chips" role="list" aria-label="Filters">
      {filters.map((f, i) => (
        <span className="chip" role="listitem" key={`${f.field}-${f.op}-${f.value}-${i}`}>
          <span>
            {dimensionLabel(f.field)} {OP_LABELS[f.op] || f.op}
            {f.value !== undefined && f.op !== "set" && f.op !== "notset" ? <FilterValue field={f.field} value={f.value} /> : null}
          </span>
          <button type="button" className="chip-x" aria-label={`Remove filter ${dimensionLabel(f.field)} ${OP_LABELS[f.op]} ${f.value ? valueLabel(f.field, f.value) : ""}`} onClick={() => onRemove(i)}>
            ×
          </button>
        </span>
      ))}
      {filters.length > 1 && (
        <button type="button" className="btn btn-ghost btn-small" onClick={onClear}>
          Clear all
        </button>
      )}
    </div>
  );
}

/** Add a filter by hand: a dimension (or prop:key), an operator and a value; only `fields` when given
 * (a shared dashboard's), without custom properties. */
export function AddFilter({ onAdd, fields }: { onAdd: (f: Filter) => void; fields?: readonly string[] }) {
  const [open, setOpen] = useState(false);
  const [field, setField] = useState("page");
  const [prop, setProp] = useState("");
  const [op, setOp] = useState<Filter["op"]>("eq");
  const [value, setValue] = useState("");
  if (!open)
    return (
      <button type="button" className="btn btn-small" onClick={() => setOpen(true)}>
        + Filter
      </button>
    );
  const realField = field === "prop" ? `prop:${prop.trim()}` : field;
  const needsValue = op !== "set" && op !== "notset";
  return (
    <form
      className="add-filter"
      aria-label="Add a filter"
      onSubmit={(e) => {
        e.preventDefault();
        if (field === "prop" && !prop.trim()) return;
        onAdd(needsValue ? { field: realField, op, value } : { field: realField, op });
        setOpen(false);
        setValue("");
      }}
    >
      <label>
        <span className="sr-only">Dimension</span>
        <select aria-label="Dimension" value={field} onChange={(e) => setField(e.target.value)} autoFocus>
          {Object.entries(DIMENSION_LABELS)
            .filter(([k]) => !fields || fields.includes(k))
            .map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          {!fields && <option value="prop">Custom property…</option>}
        </select>
      </label>
      {field === "prop" && (
        <label>
          <span className="sr-only">Property key</span>
          <input placeholder="property key, e.g. plan" value={prop} onChange={(e) => setProp(e.target.value)} />
        </label>
      )}
      <label>
        <span className="sr-only">Operator</span>
        <select aria-label="Operator" value={op} onChange={(e) => setOp(e.target.value as Filter["op"])}>
          {Object.entries(OP_LABELS).map(([k, v]) => (
            <option key={k} value={k}>
              {v}
            </option>
          ))}
        </select>
      </label>
      {needsValue && (
        <label>
          <span className="sr-only">Value</span>
          <input placeholder="value" value={value} onChange={(e) => setValue(e.target.value)} />
        </label>
      )}
      <button className="btn btn-primary btn-small" type="submit">
        Add
      </button>
      <button className="btn btn-ghost btn-small" type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}

interface RangeProps {
  range: DateRange;
  compare?: boolean;
  onChange: (changes: Record<string, string | null>) => void;
}

export function RangePicker({ range, compare, onChange }: RangeProps) {
  const zones = useMemo(() => timeZones(), []);
  const today = todayIn(range.tz);
  const [period, setPeriod] = useShown<string>(range.period);
  const [tz, setTz] = useShown(range.tz);
  const [comparing, setComparing] = useShown(!!compare);
  return (
    <div className="range-picker">
      <label>
        <span className="sr-only">Date range</span>
        <select
          aria-label="Date range"
          value={period}
          onChange={(e) => {
            const v = e.target.value;
            setPeriod(v);
            if (v === "custom") onChange({ period: "custom", from: range.from, to: range.to });
            else onChange({ period: v, from: null, to: null });
          }}
        >
          {PRESETS.map((p) => (
            <option key={p.id} value={p.id}>
              {p.label}
            </option>
          ))}
          <option value="custom">Custom range…</option>
        </select>
      </label>
      {period === "custom" && (
        <>
          <label className="inline-label">
            From
            <input type="date" value={range.from} max={today} onChange={(e) => e.target.value && onChange({ period: "custom", from: e.target.value, to: range.to })} />
          </label>
          <label className="inline-label">
            To
            <input type="date" value={range.to} max={today} onChange={(e) => e.target.value && onChange({ period: "custom", from: range.from, to: e.target.value })} />
          </label>
        </>
      )}
      <label className="inline-label">
        <span className="sr-only">Time zone</span>
        <select
          aria-label="Time zone"
          value={tz}
          onChange={(e) => {
            setTz(e.target.value);
            onChange({ tz: e.target.value });
          }}
          className="tz-select"
        >
          {(zones.includes(tz) ? zones : [tz, ...zones]).map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </select>
      </label>
      {compare !== undefined && (
        <label className="inline-label checkbox">
          <input
            type="checkbox"
            checked={comparing}
            onChange={(e) => {
              setComparing(e.target.checked);
              onChange({ compare: e.target.checked ? null : "0" });
            }}
          />
          Compare to previous period
        </label>
      )}
    </div>
  );
}
