/**
 * Git branch names: the rules of `git check-ref-format --branch`, and the derivations Kiln uses
 * when a task is created without an explicit branch or title.
 */

// Control characters, space and the characters git forbids anywhere in a ref.
const FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/;

export function isValidBranchName(name: string): boolean {
  if (name.length === 0 || name.length > 200) return false;
  if (FORBIDDEN.test(name)) return false;
  if (name === "@" || name.startsWith("-") || name.startsWith("/") || name.endsWith("/")) return false;
  if (name.endsWith(".") || name.endsWith(".lock") || name.includes("..") || name.includes("@{") || name.includes("//")) return false;
  return name.split("/").every((part) => part.length > 0 && !part.startsWith(".") && !part.endsWith(".lock"));
}

/** Turns any text into a valid, readable branch name: `Fix the login bug!` -> `fix-the-login-bug`. */
export function sanitizeBranchName(text: string, maxLength = 60): string {
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9/._-]+/g, "-")
    .replace(/\/+/g, "/")
    .replace(/\.{2,}/g, ".")
    .split("/")
    .map((part) => part.replace(/^[.-]+|[.-]+$/g, "").replace(/\.lock$/, ""))
    .filter(Boolean)
    .join("/")
    .replace(/-{2,}/g, "-");
  const cut = slug.slice(0, maxLength).replace(/[/.-]+$/, "");
  return isValidBranchName(cut) ? cut : "task";
}

/** The first line of the prompt, cut at a word boundary. */
export function deriveTitle(prompt: string, maxLength = 72): string {
  const line = prompt.trim().split("\n")[0]?.trim() ?? "";
  if (line.length <= maxLength) return line || "Untitled task";
  const cut = line.slice(0, maxLength);
  const space = cut.lastIndexOf(" ");
  return `${(space > maxLength / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** `base`, or `base-2`, `base-3`… : the first name not in `taken`. */
export function uniqueBranchName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
