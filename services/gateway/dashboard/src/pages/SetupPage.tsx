import { useEffect, useState } from "react";
import { Link } from "react-router";

import { events } from "../api/endpoints";
import type { Project, TrackedEvent } from "../api/types";
import { Card, CopyButton, PageTitle } from "../components/ui";
import { eventLabel, eventPath, eventTime } from "../eventFields";
import { addDays, browserTimeZone, todayIn } from "../state/range";
import { timeAgo } from "../format";

const POLL_MS = 2500;

function Snippet({ code, label }: { code: string; label: string }) {
  return (
    <div className="snippet">
      <pre aria-label={label}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} />
    </div>
  );
}

/** Polls the event explorer until the project's first event is there. */
function useFirstEvent(projectId: number) {
  const [latest, setLatest] = useState<TrackedEvent | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, setNow] = useState(0);
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const ctrl = new AbortController();
    setLatest(null);
    async function poll() {
      const tz = browserTimeZone();
      const today = todayIn(tz);
      try {
        const page = await events.list(projectId, { from: addDays(today, -89), to: today, tz, limit: 1 }, ctrl.signal);
        setError(null);
        const found = page.events?.[0];
        if (found) {
          setLatest(found);
          return; // received: stop polling
        }
      } catch (e) {
        if (stop) return;
        setError((e as Error).message);
      }
      if (!stop) timer = window.setTimeout(poll, POLL_MS);
    }
    void poll();
    const clock = window.setInterval(() => setNow((n) => n + 1), 5000);
    return () => {
      stop = true;
      ctrl.abort();
      window.clearTimeout(timer);
      window.clearInterval(clock);
    };
  }, [projectId]);
  return { latest, error };
}

export function SetupPage({ project }: { project: Project }) {
  const origin = window.location.origin;
  const { latest, error } = useFirstEvent(project.id);
  const scriptTag = `<script defer src="${origin}/sdk/tme.js" data-write-key="${project.writeKey}"></script>`;
  const npm = `import { init } from "tme-js";

const tme = init({ writeKey: "${project.writeKey}", host: "${origin}" });
tme.track("Signup", { plan: "pro" });`;
  const api = `tme.track("Signup", { plan: "pro" });   // a custom event
tme.identify("user-42", { email: "ada@example.com" });  // links this visitor to your user id
tme.page();       // page views are automatic (SPA navigation too); call it for extra ones
tme.reset();      // on log-out: forget the user and start a new anonymous id
tme.optOut();     // this browser sends nothing any more (tme.optIn() undoes it)`;
  const curl = `curl ${origin}/v1/track \\
  -u '${project.writeKey}:' \\
  -H 'Content-Type: application/json' \\
  -d '{"userId": "user-42", "event": "Signup", "properties": {"plan": "pro"}}'`;
  const segmentNode = `import { Analytics } from "@segment/analytics-node";
const analytics = new Analytics({ writeKey: "${project.writeKey}", host: "${origin}" });`;
  const segmentPython = `import segment.analytics as analytics
analytics.write_key = "${project.writeKey}"
analytics.host = "${origin}"`;

  return (
    <>
      <PageTitle>SDK setup</PageTitle>
      <div className={`live-check ${latest ? "live-ok" : "live-wait"}`} role="status" aria-live="polite" data-testid="live-check">
        {latest ? (
          <>
            <strong>Received</strong> — your first event arrived: {eventLabel(latest)}
            {eventPath(latest) ? ` on ${eventPath(latest)}` : ""} {timeAgo(eventTime(latest))}.{" "}
            <Link to={`/projects/${project.id}/dashboard`}>Open the dashboard →</Link>
          </>
        ) : (
          <>
            <span className="pulse" aria-hidden="true" /> <strong>Waiting for your first event…</strong> Add the snippet below
            to your site and open a page; this turns to “received” within seconds.
            {error && <span className="muted"> ({error})</span>}
          </>
        )}
      </div>

      <Card title="Your write key">
        <p className="key-line">
          <code data-testid="write-key">{project.writeKey}</code> <CopyButton text={project.writeKey} label="Copy key" />
        </p>
        <p className="muted">
          Write keys are public by design: they can only send events to “{project.name}”. Rotate it on the{" "}
          <Link to="/projects">projects page</Link> if it is abused.
        </p>
      </Card>

      <Card title="1. Add the script to every page">
        <p>
          Paste this into the <code>&lt;head&gt;</code> of your site. It records page views (single-page-app navigation
          included), batches events, and under 5 KB gzipped.
        </p>
        <Snippet code={scriptTag} label="Script tag" />
        <p className="muted">
          Add <code>data-respect-dnt</code> to honour the browser’s Do-Not-Track setting. No cookies are used: the anonymous
          id lives in localStorage.
        </p>
      </Card>

      <Card title="2. Send your own events">
        <Snippet code={api} label="JavaScript API" />
      </Card>

      <Card title="Or: bundle it with npm">
        <p>
          The same SDK is an npm package, <code>tme-js</code> (<code>services/gateway/sdk</code> in the TME repository:{" "}
          <code>npm pack</code> it or publish it to your registry).
        </p>
        <Snippet code={npm} label="npm usage" />
      </Card>

      <Card title="Or: any Segment-compatible library or server">
        <p>
          TME speaks Segment’s HTTP Tracking API at <code>{origin}/v1/</code> (<code>track</code>, <code>page</code>,{" "}
          <code>identify</code>, <code>batch</code>, …). Use the write key as the HTTP Basic username (empty password), or
          as <code>writeKey</code> in the body.
        </p>
        <Snippet code={curl} label="curl" />
        <Snippet code={segmentNode} label="Segment Node.js" />
        <Snippet code={segmentPython} label="Segment Python" />
      </Card>
    </>
  );
}
