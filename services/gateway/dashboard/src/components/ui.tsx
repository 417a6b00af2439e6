import { useEffect, useId, useRef, useState, type InputHTMLAttributes, type ReactNode } from "react";

import type { ApiError } from "../api/client";

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="spinner" role="status" aria-live="polite">
      <span className="spinner-dot" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: ApiError | Error | string; onRetry?: () => void }) {
  const message = typeof error === "string" ? error : error.message;
  return (
    <div className="error-box" role="alert">
      <span>{message}</span>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="empty-text">{children}</div>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  error?: string;
  hint?: ReactNode;
}

export function Field({ label, error, hint, id, ...input }: FieldProps) {
  const auto = useId();
  const fid = id || auto;
  const describedBy = [error ? `${fid}-err` : "", hint ? `${fid}-hint` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={fid}>{label}</label>
      <input id={fid} aria-invalid={!!error} aria-describedby={describedBy} {...input} />
      {hint && (
        <div id={`${fid}-hint`} className="field-hint">
          {hint}
        </div>
      )}
      {error && (
        <div id={`${fid}-err`} className="field-error">
          {error}
        </div>
      )}
    </div>
  );
}

/**
 * The value a control shows: it follows `value` (read from the URL) but shows a new choice at
 * once. The router applies URL changes in a transition, and a controlled select or checkbox
 * would otherwise snap back to the old value until the transition is done.
 */
export function useShown<T>(value: T): [T, (v: T) => void] {
  const [shown, setShown] = useState(value);
  useEffect(() => setShown(value), [value]);
  return [shown, setShown];
}

/** A button that copies text and says so (for write keys and snippets). */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const timer = useRef<number>(0);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    setDone(true);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setDone(false), 2000);
  }
  return (
    <button type="button" className="btn btn-small" onClick={copy} aria-live="polite">
      {done ? "Copied ✓" : label}
    </button>
  );
}

// The first page of a load keeps the browser's own focus order (the skip link first); pages
// opened afterwards inside the app move focus to their heading.
let firstPageShown = false;

/** Move focus to the page's main heading when a page opens in the app (screen readers announce it). */
export function PageTitle({ children, actions }: { children: ReactNode; actions?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (firstPageShown) ref.current?.focus({ preventScroll: true });
    firstPageShown = true;
    if (typeof children === "string") document.title = `${children} · Track My Events`;
  }, [children]);
  return (
    <div className="page-head">
      <h1 ref={ref} tabIndex={-1}>
        {children}
      </h1>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

export function Card({ title, children, actions, className }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string }) {
  return (
    <section className={`card${className ? " " + className : ""}`}>
      {(title || actions) && (
        <div className="card-head">
          {title && <h2>{title}</h2>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      {children}
    </section>
  );
}

interface CommitInputProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> {
  value: string;
  onCommit: (value: string) => void;
}

/** A text input that reports its value on Enter, on blur or on picking a suggestion — not on every key. */
export function CommitInput({ value, onCommit, ...rest }: CommitInputProps) {
  const [draft, setDraft] = useState(value);
  useEffect(() => setDraft(value), [value]);
  const commit = (v: string) => {
    if (v !== value) onCommit(v);
  };
  return (
    <input
      {...rest}
      value={draft}
      onChange={(e) => {
        setDraft(e.target.value);
        // a choice from a datalist arrives as a change without typing
        if ((e.nativeEvent as InputEvent).inputType === "insertReplacementText" || !(e.nativeEvent as InputEvent).inputType) commit(e.target.value);
      }}
      onBlur={() => commit(draft)}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          commit(draft);
        }
      }}
    />
  );
}
