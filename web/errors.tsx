import { useCallback, useState } from "preact/hooks";
import { KilnApiError } from "../shared/client.js";

/** A route's error as its message: Kiln's own words, never a blank page or a console-only failure. */
export function errorMessage(err: unknown): string {
  if (err instanceof KilnApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Runs a user action, keeping its pending state and its error for the form that started it. */
export function useAction<A extends unknown[]>(fn: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async (...args: A) => {
      setBusy(true);
      setError(null);
      try {
        await fn(...args);
        return true;
      } catch (err) {
        setError(errorMessage(err));
        return false;
      } finally {
        setBusy(false);
      }
    },
    [fn],
  );
  return { run, busy, error, setError };
}

/** A form's submit handler: no page reload, the action runs (its error shows where the form is). */
export function submitWith(run: () => Promise<unknown>) {
  return (e: Event) => {
    e.preventDefault();
    void run();
  };
}

export function ErrorText({ error }: { error: string | null }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}
