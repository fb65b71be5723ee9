import { randomBytes, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import {
  bearerToken,
  HANG,
  isoNow,
  sendJson,
  sendText,
  startBaseServer,
  type BaseFake,
  type FakeRequest,
  type RecordedRequest,
} from "./http.js";

/**
 * A fake Polar API for the paywall, accepted by the real `@polar-sh/sdk` 0.49 (zod-validated):
 *
 *   new Polar({ accessToken: fake.accessToken, serverURL: fake.url })
 *
 * Endpoints (all behind `Authorization: Bearer <accessToken>`, 401 otherwise):
 * - GET  /v1/customers/external/{externalId}/state   customers.getStateExternal  (404 ResourceNotFound if none)
 * - GET  /v1/customers/external/{externalId}         customers.getExternal
 * - GET  /v1/customers/?email=                       customers.list              (exact, case-insensitive email)
 * - GET  /v1/customers/{id}/state                    customers.getState
 * - GET  /v1/customers/{id}                          customers.get
 * - GET  /v1/benefit-grants/?external_customer_id=&customer_id=&is_granted=   benefitGrants.list
 * - POST /v1/checkouts/                              checkouts.create (201; 422 for unknown product ids)
 * - GET  /v1/checkouts/{id}                          checkouts.get
 * Not under /v1 (no auth, never counted, never failed by `setOutage`):
 * - GET  /checkout/{clientSecret}                    the page `checkout.url` points at (200 HTML)
 */

export type PolarOperation =
  | "customers.getStateExternal"
  | "customers.getExternal"
  | "customers.list"
  | "customers.getState"
  | "customers.get"
  | "benefitGrants.list"
  | "checkouts.create"
  | "checkouts.get";

export interface FakePolarCustomer {
  id: string;
  email: string;
  externalId: string | null;
  name: string | null;
  createdAt: string;
}

export interface FakePolarGrant {
  id: string;
  customerId: string;
  benefitId: string;
  grantedAt: string;
  revokedAt: string | null;
}

export interface FakePolarCheckout {
  id: string;
  clientSecret: string;
  url: string;
  status: "open" | "succeeded" | "expired";
  productIds: string[];
  successUrl: string;
  returnUrl: string | null;
  externalCustomerId: string | null;
  customerEmail: string | null;
  customerId: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  /** The raw POST body. */
  body: Record<string, unknown>;
}

export type PolarOutage = "http_500" | "http_502" | "http_503" | "reset" | "hang";

export interface FakePolarOptions {
  accessToken?: string;
  organizationId?: string;
  /** The product the paywall sells (its checkout grants `benefitId`). */
  productId?: string;
  /** The benefit that unlocks cloud workers. */
  benefitId?: string;
}

export interface FakePolarState {
  customers: Map<string, FakePolarCustomer>;
  grants: FakePolarGrant[];
  checkouts: FakePolarCheckout[];
  /** Every authenticated /v1 call, in order, by SDK operation name. */
  calls: Array<{ op: PolarOperation | "unknown"; path: string; query: Record<string, string>; at: number }>;
  requests: RecordedRequest[];
}

export interface FakePolar extends BaseFake {
  accessToken: string;
  /** Pass as the SDK's `serverURL` (equals `url`). */
  serverURL: string;
  organizationId: string;
  productId: string;
  benefitId: string;
  state: FakePolarState;
  /** Create (or find) a customer by external id and/or email. */
  addCustomer(c: { email?: string; externalId?: string | null; name?: string }): FakePolarCustomer;
  /**
   * Grant a benefit (default: `benefitId`) to the customer with this external id or email, creating
   * the customer if needed (a customer created from an email only has `externalId: null`).
   */
  grantBenefit(to: { externalId?: string; email?: string; benefitId?: string }): FakePolarGrant;
  /** Revoke the benefit from that customer (the grant stays, with `revokedAt`). */
  revokeBenefit(from: { externalId?: string; email?: string; benefitId?: string }): void;
  /** Mark a checkout succeeded and grant its products' benefit to its customer (as a real payment would). */
  completeCheckout(checkoutId: string): FakePolarGrant;
  /** Make every /v1 call fail (5xx, connection reset, or never answer); `null` restores service. */
  setOutage(mode: PolarOutage | null): void;
  /** Number of /v1 calls so far (authenticated or not), optionally for one operation. */
  callCount(op?: PolarOperation): number;
  resetCalls(): void;
}

const OP_PATTERNS: Array<[string, RegExp, PolarOperation]> = [
  ["GET", /^\/v1\/customers\/external\/[^/]+\/state\/?$/, "customers.getStateExternal"],
  ["GET", /^\/v1\/customers\/external\/[^/]+\/?$/, "customers.getExternal"],
  ["GET", /^\/v1\/customers\/?$/, "customers.list"],
  ["GET", /^\/v1\/customers\/[^/]+\/state\/?$/, "customers.getState"],
  ["GET", /^\/v1\/customers\/[^/]+\/?$/, "customers.get"],
  ["GET", /^\/v1\/benefit-grants\/?$/, "benefitGrants.list"],
  ["POST", /^\/v1\/checkouts\/?$/, "checkouts.create"],
  ["GET", /^\/v1\/checkouts\/[^/]+\/?$/, "checkouts.get"],
];

function operationOf(method: string, path: string): PolarOperation | "unknown" {
  return OP_PATTERNS.find(([m, re]) => m === method && re.test(path))?.[2] ?? "unknown";
}

export async function startFakePolar(opts: FakePolarOptions = {}): Promise<FakePolar> {
  const accessToken = opts.accessToken ?? "polar_oat_fake_token";
  const organizationId = opts.organizationId ?? randomUUID();
  const productId = opts.productId ?? randomUUID();
  const benefitId = opts.benefitId ?? randomUUID();
  const createdAt = isoNow(-86_400_000);

  const customers = new Map<string, FakePolarCustomer>();
  const grants: FakePolarGrant[] = [];
  const checkouts: FakePolarCheckout[] = [];
  const calls: FakePolarState["calls"] = [];
  let outage: PolarOutage | null = null;
  let base = "";

  const benefits = new Map<string, { id: string; description: string }>([
    [benefitId, { id: benefitId, description: "Kiln cloud workers" }],
  ]);
  const products = new Map<string, { id: string; name: string; priceAmount: number; benefitIds: string[] }>([
    [productId, { id: productId, name: "Kiln Cloud", priceAmount: 2000, benefitIds: [benefitId] }],
  ]);

  // ---- shapes (snake_case, exactly what the 0.49 zod schemas require) ----

  const customerJson = (c: FakePolarCustomer) => ({
    id: c.id,
    created_at: c.createdAt,
    modified_at: null,
    metadata: {},
    external_id: c.externalId,
    email: c.email,
    email_verified: true,
    type: "individual",
    name: c.name,
    billing_name: null,
    billing_address: null,
    tax_id: null,
    locale: null,
    organization_id: organizationId,
    default_payment_method_id: null,
    deleted_at: null,
    avatar_url: null,
  });

  const activeGrants = (customerId: string) =>
    grants.filter((g) => g.customerId === customerId && g.revokedAt === null);

  const customerStateJson = (c: FakePolarCustomer) => ({
    ...customerJson(c),
    active_subscriptions: [],
    granted_benefits: activeGrants(c.id).map((g) => ({
      id: g.id,
      created_at: g.grantedAt,
      modified_at: null,
      granted_at: g.grantedAt,
      benefit_id: g.benefitId,
      benefit_type: "custom",
      benefit_metadata: {},
      properties: {},
    })),
    active_meters: [],
  });

  const benefitJson = (id: string) => ({
    id,
    created_at: createdAt,
    modified_at: null,
    type: "custom",
    description: benefits.get(id)?.description ?? `Benefit ${id}`,
    selectable: true,
    deletable: true,
    is_deleted: false,
    organization_id: organizationId,
    metadata: {},
    visibility: "public",
    properties: { note: null },
    visibility_configurable: true,
  });

  const grantJson = (g: FakePolarGrant) => {
    const c = customers.get(g.customerId)!;
    return {
      created_at: g.grantedAt,
      modified_at: g.revokedAt,
      id: g.id,
      granted_at: g.grantedAt,
      is_granted: g.revokedAt === null,
      revoked_at: g.revokedAt,
      is_revoked: g.revokedAt !== null,
      subscription_id: null,
      order_id: null,
      customer_id: g.customerId,
      member_id: null,
      benefit_id: g.benefitId,
      error: null,
      customer: customerJson(c),
      member: null,
      benefit: benefitJson(g.benefitId),
      properties: {},
    };
  };

  const productJson = (id: string) => {
    const p = products.get(id)!;
    return {
      id: p.id,
      created_at: createdAt,
      modified_at: null,
      trial_interval: null,
      trial_interval_count: null,
      name: p.name,
      description: null,
      visibility: "public",
      recurring_interval: "month",
      recurring_interval_count: 1,
      meter_interval: null,
      meter_interval_count: null,
      is_recurring: true,
      is_archived: false,
      organization_id: organizationId,
      prices: [
        {
          created_at: createdAt,
          modified_at: null,
          id: `${p.id}-price`,
          source: "catalog",
          amount_type: "fixed",
          price_currency: "usd",
          tax_behavior: null,
          is_archived: false,
          product_id: p.id,
          price_amount: p.priceAmount,
        },
      ],
      benefits: p.benefitIds.map((b) => {
        const full = benefitJson(b);
        return {
          id: full.id,
          created_at: full.created_at,
          modified_at: null,
          type: full.type,
          description: full.description,
          selectable: full.selectable,
          deletable: full.deletable,
          is_deleted: false,
          organization_id: organizationId,
        };
      }),
      medias: [],
    };
  };

  const checkoutJson = (co: FakePolarCheckout) => {
    const first = co.productIds[0]!;
    const product = productJson(first);
    const amount = products.get(first)!.priceAmount;
    return {
      id: co.id,
      created_at: co.createdAt,
      modified_at: null,
      custom_field_data: {},
      payment_processor: "stripe",
      status: co.status,
      client_secret: co.clientSecret,
      url: co.url,
      expires_at: new Date(Date.parse(co.createdAt) + 3_600_000).toISOString(),
      success_url: co.successUrl,
      return_url: co.returnUrl,
      embed_origin: null,
      amount,
      seats: null,
      min_seats: null,
      max_seats: null,
      discount_amount: 0,
      net_amount: amount,
      tax_amount: null,
      tax_behavior: null,
      total_amount: amount,
      currency: "usd",
      allow_trial: null,
      active_trial_interval: null,
      active_trial_interval_count: null,
      trial_end: null,
      organization_id: organizationId,
      product_id: first,
      product_price_id: product.prices[0]!.id,
      discount_id: null,
      allow_discount_codes: true,
      require_billing_address: false,
      is_discount_applicable: true,
      is_free_product_price: false,
      is_payment_required: true,
      is_payment_setup_required: true,
      is_payment_form_required: true,
      customer_id: co.customerId,
      is_business_customer: false,
      customer_name: null,
      customer_email: co.customerEmail,
      customer_ip_address: null,
      customer_billing_name: null,
      customer_billing_address: null,
      customer_tax_id: null,
      locale: null,
      payment_processor_metadata: {},
      billing_address_fields: {
        country: "required",
        state: "disabled",
        city: "disabled",
        postal_code: "disabled",
        line1: "disabled",
        line2: "disabled",
      },
      trial_interval: null,
      trial_interval_count: null,
      metadata: co.metadata,
      external_customer_id: co.externalCustomerId,
      products: co.productIds.map(productJson),
      product,
      product_price: product.prices[0],
      prices: Object.fromEntries(co.productIds.map((id) => [id, productJson(id).prices])),
      discount: null,
      subscription_id: null,
      attached_custom_fields: [],
      customer_metadata: {},
    };
  };

  // ---- data helpers ----

  const byExternalId = (externalId: string) => [...customers.values()].find((c) => c.externalId === externalId);
  const byEmail = (email: string) =>
    [...customers.values()].find((c) => c.email.toLowerCase() === email.toLowerCase());

  const addCustomer: FakePolar["addCustomer"] = ({ email, externalId = null, name }) => {
    const existing = (externalId ? byExternalId(externalId) : undefined) ?? (email ? byEmail(email) : undefined);
    if (existing) {
      if (externalId && !existing.externalId) existing.externalId = externalId;
      return existing;
    }
    const c: FakePolarCustomer = {
      id: randomUUID(),
      email: email ?? `${externalId ?? randomUUID()}@customers.example`,
      externalId,
      name: name ?? null,
      createdAt: isoNow(),
    };
    customers.set(c.id, c);
    return c;
  };

  const grantTo = (customer: FakePolarCustomer, benefit: string): FakePolarGrant => {
    if (!benefits.has(benefit)) benefits.set(benefit, { id: benefit, description: `Benefit ${benefit}` });
    const existing = grants.find((g) => g.customerId === customer.id && g.benefitId === benefit && g.revokedAt === null);
    if (existing) return existing;
    const g: FakePolarGrant = {
      id: randomUUID(),
      customerId: customer.id,
      benefitId: benefit,
      grantedAt: isoNow(),
      revokedAt: null,
    };
    grants.push(g);
    return g;
  };

  const paginate = <T>(items: T[], query: URLSearchParams) => {
    const limit = Math.max(1, Number(query.get("limit") ?? 10));
    const page = Math.max(1, Number(query.get("page") ?? 1));
    return {
      items: items.slice((page - 1) * limit, page * limit),
      pagination: { total_count: items.length, max_page: Math.max(1, Math.ceil(items.length / limit)) },
    };
  };

  const notFound = (res: ServerResponse) => sendJson(res, 404, { error: "ResourceNotFound", detail: "Not found" });

  const unprocessable = (res: ServerResponse, loc: Array<string | number>, msg: string, input?: unknown) =>
    sendJson(res, 422, { detail: [{ loc, msg, type: "value_error", input }] });

  // ---- handler ----

  const handler = (req: FakeRequest, res: ServerResponse) => {
    const { method, path, query } = req;

    const page = /^\/checkout\/([^/]+)$/.exec(path);
    if (page && method === "GET") {
      const co = checkouts.find((c) => c.clientSecret === page[1]);
      if (!co) return sendText(res, 404, "checkout not found");
      return sendText(res, 200, `<html><body>Fake Polar checkout ${co.id}</body></html>`, "text/html");
    }

    if (!path.startsWith("/v1/")) {
      return sendJson(res, 404, { error: "ResourceNotFound", detail: `fake Polar does not serve ${path}` });
    }

    const op = operationOf(method, path);
    calls.push({ op, path, query: Object.fromEntries(query.entries()), at: Date.now() });

    if (outage) {
      if (outage === "reset") return void req.raw.socket.destroy();
      if (outage === "hang") return HANG; // answered by nobody; close() drops the socket
      const status = outage === "http_500" ? 500 : outage === "http_502" ? 502 : 503;
      return sendJson(res, status, { error: "InternalServerError", detail: "scripted outage" });
    }

    if (bearerToken(req.raw) !== accessToken) {
      return sendJson(res, 401, { error: "Unauthorized", detail: "Invalid or missing access token" });
    }

    let m: RegExpExecArray | null;
    switch (op) {
      case "customers.getStateExternal": {
        m = /^\/v1\/customers\/external\/([^/]+)\/state\/?$/.exec(path)!;
        const c = byExternalId(decodeURIComponent(m[1]!));
        return c ? sendJson(res, 200, customerStateJson(c)) : notFound(res);
      }
      case "customers.getExternal": {
        m = /^\/v1\/customers\/external\/([^/]+)\/?$/.exec(path)!;
        const c = byExternalId(decodeURIComponent(m[1]!));
        return c ? sendJson(res, 200, customerJson(c)) : notFound(res);
      }
      case "customers.list": {
        let items = [...customers.values()];
        const email = query.get("email");
        if (email !== null) items = items.filter((c) => c.email.toLowerCase() === email.toLowerCase());
        const q = query.get("query");
        if (q !== null) items = items.filter((c) => c.email.includes(q) || (c.name ?? "").includes(q));
        return sendJson(res, 200, paginate(items.map(customerJson), query));
      }
      case "customers.getState": {
        m = /^\/v1\/customers\/([^/]+)\/state\/?$/.exec(path)!;
        const c = customers.get(decodeURIComponent(m[1]!));
        return c ? sendJson(res, 200, customerStateJson(c)) : notFound(res);
      }
      case "customers.get": {
        m = /^\/v1\/customers\/([^/]+)\/?$/.exec(path)!;
        const c = customers.get(decodeURIComponent(m[1]!));
        return c ? sendJson(res, 200, customerJson(c)) : notFound(res);
      }
      case "benefitGrants.list": {
        let items = [...grants];
        const customerIds = query.getAll("customer_id");
        if (customerIds.length > 0) items = items.filter((g) => customerIds.includes(g.customerId));
        const externalIds = query.getAll("external_customer_id");
        if (externalIds.length > 0) {
          items = items.filter((g) => {
            const ext = customers.get(g.customerId)?.externalId;
            return ext != null && externalIds.includes(ext);
          });
        }
        const isGranted = query.get("is_granted");
        if (isGranted !== null) items = items.filter((g) => (g.revokedAt === null) === (isGranted === "true"));
        return sendJson(res, 200, paginate(items.map(grantJson), query));
      }
      case "checkouts.create": {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const productIds = body.products;
        if (!Array.isArray(productIds) || productIds.length === 0) {
          return unprocessable(res, ["body", "products"], "Field required", productIds);
        }
        const unknown = productIds.findIndex((p) => typeof p !== "string" || !products.has(p));
        if (unknown !== -1) {
          return unprocessable(res, ["body", "products", unknown], "Product does not exist.", productIds[unknown]);
        }
        const clientSecret = `polar_c_${randomBytes(18).toString("hex")}`;
        const co: FakePolarCheckout = {
          id: randomUUID(),
          clientSecret,
          url: `${base}/checkout/${clientSecret}`,
          status: "open",
          productIds: productIds as string[],
          successUrl: typeof body.success_url === "string" ? body.success_url : `${base}/success`,
          returnUrl: typeof body.return_url === "string" ? body.return_url : null,
          externalCustomerId: typeof body.external_customer_id === "string" ? body.external_customer_id : null,
          customerEmail: typeof body.customer_email === "string" ? body.customer_email : null,
          customerId: typeof body.customer_id === "string" ? body.customer_id : null,
          metadata: (body.metadata as Record<string, unknown> | undefined) ?? {},
          createdAt: isoNow(),
          body,
        };
        checkouts.push(co);
        return sendJson(res, 201, checkoutJson(co));
      }
      case "checkouts.get": {
        m = /^\/v1\/checkouts\/([^/]+)\/?$/.exec(path)!;
        const co = checkouts.find((c) => c.id === decodeURIComponent(m![1]!));
        return co ? sendJson(res, 200, checkoutJson(co)) : notFound(res);
      }
      default:
        return sendJson(res, 404, { error: "ResourceNotFound", detail: `fake Polar does not serve ${method} ${path}` });
    }
  };

  const fake = await startBaseServer(handler);
  base = fake.url;

  const findCustomer = (who: { externalId?: string; email?: string }) =>
    (who.externalId ? byExternalId(who.externalId) : undefined) ?? (who.email ? byEmail(who.email) : undefined);

  return {
    ...fake,
    accessToken,
    serverURL: fake.url,
    organizationId,
    productId,
    benefitId,
    state: { customers, grants, checkouts, calls, requests: fake.requests },
    addCustomer,
    grantBenefit({ externalId, email, benefitId: benefit }) {
      if (!externalId && !email) throw new Error("grantBenefit needs an externalId or an email");
      const customer = addCustomer({ email, externalId: externalId ?? null });
      return grantTo(customer, benefit ?? benefitId);
    },
    revokeBenefit(from) {
      const customer = findCustomer(from);
      if (!customer) return;
      for (const g of grants) {
        if (g.customerId === customer.id && g.benefitId === (from.benefitId ?? benefitId) && g.revokedAt === null) {
          g.revokedAt = isoNow();
        }
      }
    },
    completeCheckout(checkoutId) {
      const co = checkouts.find((c) => c.id === checkoutId);
      if (!co) throw new Error(`no checkout ${checkoutId}`);
      co.status = "succeeded";
      const customer = co.customerId
        ? customers.get(co.customerId)!
        : addCustomer({ email: co.customerEmail ?? undefined, externalId: co.externalCustomerId });
      co.customerId = customer.id;
      let grant: FakePolarGrant | undefined;
      for (const p of co.productIds) for (const b of products.get(p)!.benefitIds) grant = grantTo(customer, b);
      return grant!;
    },
    setOutage(mode) {
      outage = mode;
    },
    callCount(op) {
      return op ? calls.filter((c) => c.op === op).length : calls.length;
    },
    resetCalls() {
      calls.length = 0;
    },
  } satisfies FakePolar;
}
