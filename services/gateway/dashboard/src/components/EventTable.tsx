// A list of events (explorer, person view, realtime feed): when, what, where, who, with details
// (properties, context, device) that expand in place.
import { Fragment, useState } from "react";
import { Link } from "react-router";

import type { TrackedEvent } from "../api/types";
import { eventName, eventPath, eventTime, personId, personLabel, senderFields } from "../eventFields";
import { formatDateTime } from "../format";

function Details({ e }: { e: TrackedEvent }) {
  const rows: [string, unknown][] = [
    ["Message id", e.messageId],
    ["Type", e.type],
    ["URL", e.url],
    ["Referrer", e.referrer],
    ["Source", e.source],
    ["Browser", [e.browser, e.browserVersion].filter(Boolean).join(" ")],
    ["OS", [e.os, e.osVersion].filter(Boolean).join(" ")],
    ["Device", e.device],
    ...senderFields(e),
    ["Session", e.sessionId],
    ["User id", e.userId],
    ["Anonymous id", e.anonymousId],
    ["Received", e.receivedAt],
  ];
  return (
    <div className="event-details">
      <dl>
        {rows
          .filter(([, v]) => v !== null && v !== undefined && v !== "")
          .map(([k, v]) => (
            <Fragment key={k}>
              <dt>{k}</dt>
              <dd>{String(v)}</dd>
            </Fragment>
          ))}
      </dl>
      {e.properties && Object.keys(e.properties).length > 0 && (
        <>
          <h3>Properties</h3>
          <pre>{JSON.stringify(e.properties, null, 2)}</pre>
        </>
      )}
      {e.traits && Object.keys(e.traits).length > 0 && (
        <>
          <h3>Traits</h3>
          <pre>{JSON.stringify(e.traits, null, 2)}</pre>
        </>
      )}
    </div>
  );
}

interface Props {
  events: TrackedEvent[];
  projectId: number;
  tz?: string;
  showPerson?: boolean;
  testId?: string;
  /** an extra class for some rows (the realtime feed dims events outside its window) */
  rowClass?: (e: TrackedEvent) => string | undefined;
}

export function EventTable({ events, projectId, tz, showPerson = true, testId, rowClass }: Props) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="table-scroll">
      <table className="table events-table" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Event</th>
            <th scope="col">Page</th>
            {showPerson && <th scope="col">Person</th>}
            <th scope="col">Browser</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => {
            const pid = personId(e);
            const isOpen = open === e.messageId;
            return (
              <Fragment key={e.messageId}>
                <tr className={[isOpen ? "open" : "", rowClass?.(e) || ""].filter(Boolean).join(" ") || undefined}>
                  <td className="nowrap">
                    <button type="button" className="row-button" aria-expanded={isOpen} onClick={() => setOpen(isOpen ? null : (e.messageId ?? null))}>
                      {formatDateTime(eventTime(e), tz)}
                    </button>
                  </td>
                  <td>
                    <span className={`badge badge-${e.type}`}>{eventName(e)}</span>
                    {e.isBot && (
                      <span className="badge badge-bot" title="Sent by a crawler, headless browser or monitor: left out of the figures">
                        bot
                      </span>
                    )}
                  </td>
                  <td className="truncate">{eventPath(e) || "–"}</td>
                  {showPerson && (
                    <td className="truncate">
                      {pid ? (
                        <Link to={`/projects/${projectId}/persons/${encodeURIComponent(pid)}`} title={pid} data-testid="person-link">
                          {personLabel(e)}
                        </Link>
                      ) : (
                        "–"
                      )}
                    </td>
                  )}
                  <td className="truncate">{[e.browser, e.device].filter(Boolean).join(" · ") || "–"}</td>
                </tr>
                {isOpen && (
                  <tr className="details-row">
                    <td colSpan={showPerson ? 5 : 4}>
                      <Details e={e} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
