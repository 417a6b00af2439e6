// The account's teams, and the one the top bar has chosen (kept in localStorage across visits).
import { useEffect } from "react";

import { teams as teamsApi } from "../api/endpoints";
import type { Team } from "../api/types";
import { useAsync, type AsyncState } from "./useAsync";

export const TEAM_KEY = "tme.team";
/** Sent when a team is made, renamed, left or deleted, so every list of teams reloads. */
const CHANGED = "tme:teams-changed";

export function storedTeam(): number | null {
  try {
    return Number(localStorage.getItem(TEAM_KEY)) || null;
  } catch {
    return null;
  }
}

export function rememberTeam(id: number): void {
  try {
    localStorage.setItem(TEAM_KEY, String(id));
  } catch {
    /* storage unavailable */
  }
}

export function teamsChanged(): void {
  window.dispatchEvent(new Event(CHANGED));
}

export function useTeams(): AsyncState<Team[]> {
  const state = useAsync((signal) => teamsApi.list(signal), []);
  const { reload } = state;
  useEffect(() => {
    window.addEventListener(CHANGED, reload);
    return () => window.removeEventListener(CHANGED, reload);
  }, [reload]);
  return state;
}

/** Roles from least to most: what a role allows includes what the ones before it do. */
const RANKS: Team["role"][] = ["viewer", "member", "admin", "owner"];

export function allows(role: Team["role"] | undefined, needed: Team["role"]): boolean {
  return role !== undefined && RANKS.indexOf(role) >= RANKS.indexOf(needed);
}
