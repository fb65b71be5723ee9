import type { Polar } from "@polar-sh/sdk";
import type { Logger } from "pino";
import { KilnError, type ErrorBody } from "../shared/errors.js";

export interface PolarGateConfig {
  accessToken: string;
  productId: string;
  benefitId: string;
  successUrl: string;
  returnUrl: string;
  serverUrl: string | undefined;
}

/** 402 with where to pay: `{ error: "payment_required", message, polar: { checkoutUrl, productId, benefitId } }`. */
export class PaymentRequiredError extends KilnError {
  constructor(readonly polar: { checkoutUrl: string; productId: string; benefitId: string }) {
    super("payment_required", "Cloud workers need a subscription. Complete the checkout, then try again.");
  }

  override toBody(): ErrorBody & { polar: PaymentRequiredError["polar"] } {
    return { ...super.toBody(), polar: this.polar };
  }
}

/**
 * Polar's SDK checks `instanceof Response` on what fetch returns. Kiln serves HTTP with
 * @hono/node-server's lighter global Response (it doubles throughput on the hot routes), which
 * fetch's own Response is not an instance of: the answer is re-wrapped in the global one.
 */
async function polarFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const res: Pick<Response, "body" | "status" | "statusText" | "headers"> = await fetch(input, init);
  if (res instanceof Response) return res;
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** How long an entitlement answer is reused: a purchase shows up within this time. */
const CACHE_MS = 30_000;

/**
 * The Polar paywall for cloud workers. A user is entitled when they hold the benefit, found by
 * external customer id (the user id), then by email. Polar unreachable fails closed (503).
 */
export class Paywall {
  private sdk: Promise<{ polar: Polar; isNotFound(err: unknown): boolean }> | undefined;
  private readonly cache = new Map<string, { entitled: boolean; at: number }>();

  constructor(
    private readonly config: PolarGateConfig,
    private readonly logger: Logger,
  ) {}

  /** The Polar SDK takes ~1 s to import: it loads on the first entitlement check, not at Kiln's start. */
  private loadSdk(): Promise<{ polar: Polar; isNotFound(err: unknown): boolean }> {
    this.sdk ??= Promise.all([
      import("@polar-sh/sdk"),
      import("@polar-sh/sdk/lib/http.js"),
      import("@polar-sh/sdk/models/errors/resourcenotfound.js"),
    ]).then(([{ Polar }, { HTTPClient }, { ResourceNotFound }]) => ({
      polar: new Polar({
        accessToken: this.config.accessToken,
        timeoutMs: 10_000,
        httpClient: new HTTPClient({ fetcher: polarFetch }),
        ...(this.config.serverUrl ? { serverURL: this.config.serverUrl } : {}),
      }),
      isNotFound: (err: unknown) => err instanceof ResourceNotFound,
    }));
    return this.sdk;
  }

  /** Resolves when the user may create a cloud worker; throws PaymentRequiredError or billing_unavailable otherwise. */
  async requireEntitlement(user: { id: string; email: string }): Promise<void> {
    const cached = this.cache.get(user.id);
    if (cached && Date.now() - cached.at < CACHE_MS && cached.entitled) return;
    let entitled: boolean;
    try {
      entitled = await this.holdsBenefit(user);
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, "Polar entitlement check failed");
      throw new KilnError("billing_unavailable", "Billing is unavailable right now, so cloud workers cannot be created. Try again shortly.");
    }
    this.cache.set(user.id, { entitled, at: Date.now() });
    if (entitled) return;
    let checkoutUrl: string;
    try {
      const { polar } = await this.loadSdk();
      const checkout = await polar.checkouts.create({
        products: [this.config.productId],
        successUrl: this.config.successUrl,
        returnUrl: this.config.returnUrl,
        externalCustomerId: user.id,
        customerEmail: user.email,
      });
      checkoutUrl = checkout.url;
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message } }, "Polar checkout creation failed");
      throw new KilnError("billing_unavailable", "Billing is unavailable right now, so cloud workers cannot be created. Try again shortly.");
    }
    throw new PaymentRequiredError({ checkoutUrl, productId: this.config.productId, benefitId: this.config.benefitId });
  }

  private async holdsBenefit(user: { id: string; email: string }): Promise<boolean> {
    const { polar, isNotFound } = await this.loadSdk();
    try {
      const state = await polar.customers.getStateExternal({ externalId: user.id });
      if (state.grantedBenefits.some((g) => g.benefitId === this.config.benefitId)) return true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const page = await polar.customers.list({ email: user.email });
    for (const customer of page.result.items) {
      const state = await polar.customers.getState({ id: customer.id });
      if (state.grantedBenefits.some((g) => g.benefitId === this.config.benefitId)) return true;
    }
    return false;
  }
}
