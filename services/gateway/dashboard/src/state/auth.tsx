// Who is logged in. On start, a stored refresh token is exchanged for an access token (silently);
// a refused refresh or a logout anywhere ends the session and returns to the login page.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { clearTokens, hasRefreshToken, onSessionEnded, refresh, setTokens } from "../api/client";
import { auth, me } from "../api/endpoints";
import type { AuthResponse, Project, User } from "../api/types";

type Status = "loading" | "anonymous" | "authenticated";

interface AuthState {
  status: Status;
  user: User | null;
  /** the first project made at registration, so the app can open its setup page */
  welcomeProject: Project | null;
  /** the session ended by the user's own "Log out" (not by expiry): no "next" page to return to */
  loggedOut: boolean;
  /** said on the login page after the session ended on purpose (the account was deleted) */
  notice: string | null;
  login(email: string, password: string): Promise<void>;
  register(name: string, email: string, password: string): Promise<Project | null>;
  logout(): Promise<void>;
  /** End the session here without asking the server (the account it belonged to is gone). */
  leave(notice: string): void;
  setUser(u: User): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>(hasRefreshToken() ? "loading" : "anonymous");
  const [user, setUser] = useState<User | null>(null);
  const [welcomeProject, setWelcomeProject] = useState<Project | null>(null);
  const [loggedOut, setLoggedOut] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(
    () =>
      onSessionEnded(() => {
        setUser(null);
        setWelcomeProject(null);
        setStatus("anonymous");
      }),
    [],
  );

  useEffect(() => {
    if (!hasRefreshToken()) return;
    let alive = true;
    refresh()
      .then((ok) => (ok ? me.get() : null))
      .then((u) => {
        if (!alive) return;
        setUser(u);
        setStatus(u ? "authenticated" : "anonymous");
      })
      .catch(() => alive && setStatus("anonymous"));
    return () => {
      alive = false;
    };
  }, []);

  const accept = useCallback((r: AuthResponse) => {
    setTokens(r);
    setLoggedOut(false);
    setNotice(null);
    setUser(r.user);
    setStatus("authenticated");
  }, []);

  const value = useMemo<AuthState>(
    () => ({
      status,
      user,
      welcomeProject,
      loggedOut,
      notice,
      async login(email, password) {
        const r = await auth.login({ email, password });
        setWelcomeProject(null);
        accept(r);
      },
      async register(name, email, password) {
        const r = await auth.register({ name, email, password });
        setWelcomeProject(r.project || null);
        accept(r);
        return r.project || null;
      },
      async logout() {
        setLoggedOut(true);
        try {
          await auth.logout();
        } catch {
          /* the session ends here whatever the server says */
        }
        clearTokens();
      },
      leave(message) {
        setLoggedOut(true);
        setNotice(message);
        clearTokens();
      },
      setUser,
    }),
    [status, user, welcomeProject, loggedOut, notice, accept],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}
