import { createKilnAuth } from "../shared/client.js";

/** What Kiln tells the page in `<meta name="kiln-config">` (see `server/routes/web.ts`). */
export interface PageConfig {
  github: boolean;
}

export function pageConfig(): PageConfig {
  const raw = document.querySelector('meta[name="kiln-config"]')?.getAttribute("content");
  try {
    return { github: false, ...(raw ? (JSON.parse(raw) as Partial<PageConfig>) : {}) };
  } catch {
    return { github: false };
  }
}

/** The page talks to the Kiln that served it. */
export const auth = createKilnAuth({ baseUrl: location.origin });

const TOKEN_KEY = "kiln.session-token";

/** The session token, kept per browser profile so a reload stays signed in. */
export function storedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}
