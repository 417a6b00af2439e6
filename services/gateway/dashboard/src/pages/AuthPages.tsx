import { useState, type FormEvent } from "react";
import { Link } from "react-router";

import { ApiError } from "../api/client";
import { ErrorBox, Field, PageTitle } from "../components/ui";
import { useAuth } from "../state/auth";

/** Errors of a form whose inputs show `shown` fields' problems themselves. */
function useFormErrors(shown: string[]) {
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  return {
    error,
    fields,
    reset() {
      setError(null);
      setFields({});
    },
    take(e: unknown) {
      if (e instanceof ApiError) {
        setFields(e.fields);
        // field problems are said beside their fields; the banner is for the rest (a wrong password,
        // a network error) and would only repeat them in the API's wording
        const elsewhere = Object.keys(e.fields).filter((f) => !shown.includes(f));
        setError(!Object.keys(e.fields).length ? e.message : elsewhere.length ? elsewhere.map((f) => `${f} ${e.fields[f]}`).join("; ") : null);
      } else setError(String(e));
    },
  };
}

export function LoginPage() {
  const { login, notice } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors(["email", "password"]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    errors.reset();
    setBusy(true);
    try {
      await login(email, password); // signed in: AnonymousOnly moves on to the page asked for
    } catch (err) {
      errors.take(err);
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={submit} noValidate>
        <PageTitle>Log in</PageTitle>
        {notice && (
          <p className="success" role="status">
            {notice}
          </p>
        )}
        {errors.error && <ErrorBox error={errors.error} />}
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={errors.fields.email} />
        <Field label="Password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} error={errors.fields.password} />
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <p className="auth-alt">
          No account yet? <Link to="/register">Create one</Link>
        </p>
      </form>
    </div>
  );
}

export function RegisterPage() {
  const { register } = useAuth();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors(["name", "email", "password"]);
  const [mismatch, setMismatch] = useState<string | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    errors.reset();
    if (password !== confirm) {
      setMismatch("does not match the password");
      return;
    }
    setMismatch(undefined);
    setBusy(true);
    try {
      await register(name, email, password); // signed in: AnonymousOnly opens the new project's setup page
    } catch (err) {
      errors.take(err);
      setBusy(false);
    }
  }

  return (
    <div className="auth-page">
      <form className="auth-card" onSubmit={submit} noValidate>
        <PageTitle>Create your account</PageTitle>
        {errors.error && <ErrorBox error={errors.error} />}
        <Field label="Name" autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} error={errors.fields.name} />
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} error={errors.fields.email} />
        <Field label="Password" type="password" autoComplete="new-password" required minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} error={errors.fields.password} hint="At least 8 characters." />
        <Field label="Confirm password" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} error={mismatch} />
        <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
          {busy ? "Creating…" : "Create account"}
        </button>
        <p className="auth-alt">
          Already registered? <Link to="/login">Log in</Link>
        </p>
      </form>
    </div>
  );
}
