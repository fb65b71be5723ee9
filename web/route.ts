import { useEffect, useState } from "preact/hooks";

/** Where the page is, from its URL hash (`#/orgs/<id>/tasks/<id>/sessions/<id>`), so links and reloads land in place. */
export type Route =
  | { view: "home" }
  | { view: "org"; orgId: string }
  | { view: "task"; orgId: string; taskId: string; sessionId?: string }
  | { view: "workers"; orgId: string }
  | { view: "team"; orgId: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== "orgs" || !parts[1]) return { view: "home" };
  const orgId = parts[1];
  if (parts[2] === "tasks" && parts[3]) return { view: "task", orgId, taskId: parts[3], ...(parts[4] === "sessions" && parts[5] ? { sessionId: parts[5] } : {}) };
  if (parts[2] === "workers") return { view: "workers", orgId };
  if (parts[2] === "team") return { view: "team", orgId };
  return { view: "org", orgId };
}

export const href = {
  org: (orgId: string) => `#/orgs/${encodeURIComponent(orgId)}`,
  task: (orgId: string, taskId: string) => `#/orgs/${encodeURIComponent(orgId)}/tasks/${encodeURIComponent(taskId)}`,
  session: (orgId: string, taskId: string, sessionId: string) => `${href.task(orgId, taskId)}/sessions/${encodeURIComponent(sessionId)}`,
  workers: (orgId: string) => `#/orgs/${encodeURIComponent(orgId)}/workers`,
  team: (orgId: string) => `#/orgs/${encodeURIComponent(orgId)}/team`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(to: string): void {
  location.hash = to;
}
