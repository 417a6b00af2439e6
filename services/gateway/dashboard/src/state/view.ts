// The analytics view lives in the URL query, so a copied link reproduces it exactly:
//   ?period=7d|30d|90d|today|custom&from=YYYY-MM-DD&to=YYYY-MM-DD&tz=Europe/Paris&compare=0
//    &filters=[{"field":"page","op":"eq","value":"/pricing"}]&metric=visitors&interval=day ...
import { useCallback, useEffect, useMemo } from "react";
import { useSearchParams } from "react-router";

import { METRICS, type Filter, type FilterOp, type Metric } from "../api/types";
import { browserTimeZone, defaultInterval, isValidTimeZone, resolveRange, type DateRange } from "./range";

const OPS: FilterOp[] = ["eq", "neq", "contains", "set", "notset"];

export function parseFilters(raw: string | null): Filter[] {
  if (!raw) return [];
  try {
    const data = JSON.parse(raw);
    if (!Array.isArray(data)) return [];
    return data
      .filter((f) => f && typeof f.field === "string" && OPS.includes(f.op ?? "eq"))
      .map((f) => ({ field: f.field, op: f.op ?? "eq", ...(f.value !== undefined ? { value: String(f.value) } : {}) }));
  } catch {
    return [];
  }
}

export interface View {
  range: DateRange;
  compare: boolean;
  filters: Filter[];
  metric: Metric;
  interval: string;
  params: URLSearchParams;
}

/** The common query of every analytics call: from, to, tz and filters. */
export function analyticsQuery(view: Pick<View, "range" | "filters">): Record<string, string> {
  const q: Record<string, string> = { from: view.range.from, to: view.range.to, tz: view.range.tz };
  if (view.filters.length) q.filters = JSON.stringify(view.filters);
  return q;
}

export function useView() {
  const [params, setParams] = useSearchParams();

  // A view without a time zone gets the browser's, written into the URL (replacing history) so
  // that the link shows the same days to whoever opens it.
  const tzParam = params.get("tz");
  useEffect(() => {
    if (!tzParam || !isValidTimeZone(tzParam)) {
      setParams(
        (p) => {
          const n = new URLSearchParams(p);
          n.set("tz", browserTimeZone());
          return n;
        },
        { replace: true },
      );
    }
  }, [tzParam, setParams]);

  const view: View = useMemo(() => {
    const tz = tzParam && isValidTimeZone(tzParam) ? tzParam : browserTimeZone();
    const range = resolveRange(params.get("period"), params.get("from"), params.get("to"), tz);
    const metric = (METRICS as readonly string[]).includes(params.get("metric") || "")
      ? (params.get("metric") as Metric)
      : "visitors";
    const interval = params.get("interval") || defaultInterval(range);
    return {
      range,
      compare: params.get("compare") !== "0",
      filters: parseFilters(params.get("filters")),
      metric,
      interval,
      params,
    };
  }, [params, tzParam]);

  const update = useCallback(
    (changes: Record<string, string | null>) => {
      setParams((p) => {
        const n = new URLSearchParams(p);
        for (const [k, v] of Object.entries(changes)) {
          if (v === null || v === "") n.delete(k);
          else n.set(k, v);
        }
        return n;
      });
    },
    [setParams],
  );

  const setFilters = useCallback(
    (filters: Filter[]) => update({ filters: filters.length ? JSON.stringify(filters) : null }),
    [update],
  );

  const addFilter = useCallback(
    (f: Filter) => {
      const rest = view.filters.filter((x) => !(x.field === f.field && x.op === f.op));
      setFilters([...rest, f]);
    },
    [view.filters, setFilters],
  );

  const removeFilter = useCallback(
    (i: number) => setFilters(view.filters.filter((_, j) => j !== i)),
    [view.filters, setFilters],
  );

  return { view, update, setFilters, addFilter, removeFilter };
}

/** Query-string keys that describe the range and filters, carried along when switching pages. */
export const SHARED_KEYS = ["period", "from", "to", "tz", "compare", "filters"];

export function carryQuery(params: URLSearchParams): string {
  const n = new URLSearchParams();
  for (const k of SHARED_KEYS) {
    const v = params.get(k);
    if (v) n.set(k, v);
  }
  const s = n.toString();
  return s ? `?${s}` : "";
}
