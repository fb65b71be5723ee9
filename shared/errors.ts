/**
 * Every error Kiln returns to a client has a stable snake_case code, defined here once.
 * Routes throw these; the error middleware maps them to `{ error, message, details? }`.
 */
/**
 * What a sandbox provider (local sandbox-agent, Daytona, Render) reports when it fails. They cross
 * the actor boundary with these codes. A provider that failed is a bad gateway (502), one still
 * settling is unavailable for now (503); neither is Kiln's own internal error.
 */
const SANDBOX_ERROR_STATUS = {
  binary_missing: 503,
  port_in_use: 503,
  create_failed: 502,
  start_failed: 502,
  server_unhealthy: 502,
  clone_failed: 502,
  checkout_failed: 502,
  command_failed: 502,
  command_timeout: 504,
  sandbox_not_found: 404,
  /** The instance ended in a failed state (a sandbox in `error`, a failed deploy): retrying will not help. */
  instance_failed: 502,
  /** Still settling (a sandbox being created, a deploy in progress): ask again later. */
  not_ready: 503,
  /** The provider cannot do this (commands on a Render worker). */
  unsupported: 422,
  /** Anything else a provider threw. */
  sandbox_failed: 502,
  /** A cloud worker's instance could not be provisioned. */
  provisioning_failed: 502,
} as const;
export type SandboxErrorCode = keyof typeof SANDBOX_ERROR_STATUS;

export const ERROR_STATUS = {
  invalid_request: 400,
  workspace_path_required: 400,
  provider_not_configured: 400,
  unauthorized: 401,
  payment_required: 402,
  forbidden: 403,
  provider_not_allowed: 403,
  insufficient_scope: 403,
  device_not_bound: 403,
  worker_id_mismatch: 403,
  platform_mismatch: 403,
  not_found: 404,
  org_not_found: 404,
  repo_not_found: 404,
  task_not_found: 404,
  session_not_found: 404,
  worker_not_found: 404,
  token_not_found: 404,
  device_not_found: 404,
  device_not_registered: 404,
  agent_not_found: 404,
  watcher_not_found: 404,
  run_not_found: 404,
  invitation_not_found: 404,
  invitation_expired: 410,
  member_not_found: 404,
  conflict: 409,
  personal_org: 409,
  github_managed: 409,
  github_not_installed: 409,
  run_not_running: 409,
  watcher_inactive: 409,
  watcher_has_no_agent: 409,
  payload_too_large: 413,
  repo_unreachable: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  billing_unavailable: 503,
  github_not_configured: 503,
  ...SANDBOX_ERROR_STATUS,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** The JSON body of every error response. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: unknown;
  requestId?: string;
}

export class KilnError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "KilnError";
    this.code = code;
    this.details = details;
  }

  get status(): ErrorStatus {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { error: this.code, message: this.message }
      : { error: this.code, message: this.message, details: this.details };
  }
}

export class InvalidRequestError extends KilnError {
  constructor(message: string, details?: unknown) {
    super("invalid_request", message, details);
  }
}

export class UnauthorizedError extends KilnError {
  constructor(message = "Sign in to continue: send the session cookie or an Authorization: Bearer token.") {
    super("unauthorized", message);
  }
}

export class ForbiddenError extends KilnError {
  constructor(message = "You are not allowed to do this.") {
    super("forbidden", message);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}
