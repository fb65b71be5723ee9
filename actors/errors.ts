import { UserError } from "rivetkit";

/**
 * A UserError thrown by another actor reaches the caller as a client-side ActorError. Rethrown
 * as it is from an action, RivetKit reports it as `internal_error`; this keeps its code and
 * message (codes from `shared/errors.ts`), so the gateway answers with the right status.
 */
export function relayUserError(err: unknown): unknown {
  const e = err as { __type?: unknown; group?: unknown; code?: unknown; message?: unknown; metadata?: unknown } | null;
  if (e?.__type !== "ActorError" || e.group !== "user" || typeof e.code !== "string") return err;
  return new UserError(String(e.message), { code: e.code, metadata: e.metadata });
}

/**
 * Another actor's handle whose action calls relay that actor's UserErrors (see `relayUserError`),
 * so an action that calls it answers with the callee's code rather than `internal_error`.
 */
export function relayingErrors<T extends object>(handle: T): T {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const out: unknown = value.apply(target, args);
        return out instanceof Promise ? out.catch((err: unknown) => Promise.reject(relayUserError(err))) : out;
      };
    },
  });
}
