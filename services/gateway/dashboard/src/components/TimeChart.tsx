// A time series chart (uPlot: canvas, ~20 KB gzipped, fast with thousands of points), current
// period as a filled line and the previous period, aligned bucket by bucket, dashed.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  times: number[]; // epoch seconds of each bucket start
  values: (number | null)[];
  previous?: (number | null)[];
}

interface Props {
  data: ChartSeries;
  label: string;
  tz: string;
  format: (v: number | null) => string;
  interval: string;
  height?: number;
}

const COUNT_STEPS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8].map((p) => m * p)).sort((a, b) => a - b);

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

export function TimeChart({ data, label, tz, format, interval, height = 260 }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const accent = cssVar("--accent", "#4f46e5");
    const muted = cssVar("--muted", "#6b7280");
    const grid = cssVar("--border", "#e5e7eb");
    const series: uPlot.Series[] = [
      {
        label: "Time",
        value: (_u, ts) =>
          ts == null
            ? "–"
            : new Date(ts * 1000).toLocaleString(undefined, {
                timeZone: tz,
                month: "short",
                day: "numeric",
                ...(interval === "hour" || interval === "minute" ? { hour: "2-digit", minute: "2-digit" } : {}),
              }),
      },
      {
        label,
        stroke: accent,
        width: 2,
        fill: accent + "22",
        points: { show: data.times.length < 60 },
        value: (_u, v) => format(v),
      },
    ];
    if (data.previous) {
      series.push({ label: "Previous period", stroke: muted, width: 1.5, dash: [5, 5], points: { show: false }, value: (_u, v) => format(v) });
    }
    const calendar = interval === "day" || interval === "week" || interval === "month";
    const dateLabel = (ts: number) =>
      new Date(ts * 1000).toLocaleDateString(undefined, {
        timeZone: tz,
        ...(interval === "month" ? { month: "short", year: "numeric" } : { month: "short", day: "numeric" }),
      });
    const xAxis: uPlot.Axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    if (calendar) {
      // one tick per bucket (thinned to fit), labelled as dates in the view's time zone
      xAxis.splits = (u) => {
        const fit = Math.max(2, Math.floor(u.bbox.width / devicePixelRatio / 80));
        const step = Math.ceil(data.times.length / fit);
        return data.times.filter((_, i) => i % step === 0);
      };
      xAxis.values = (_u, splits) => splits.map(dateLabel);
    }
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
      series,
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        xAxis,
        {
          stroke: muted,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid },
          values: (_u, vals) => vals.map((v) => format(v)),
          size: 60,
          incrs: COUNT_STEPS, // counts: whole-number ticks only
        },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const aligned: uPlot.AlignedData = data.previous
      ? [data.times, data.values, data.previous]
      : [data.times, data.values];
    const u = new uPlot(opts, aligned, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, label, tz, format, interval, height]);

  // data-drawn: how many buckets the line is drawn through (buckets still to come are not)
  return <div ref={box} className="chart" role="img" aria-label={`${label} over time`} data-drawn={data.values.filter((v) => v !== null).length} />;
}
