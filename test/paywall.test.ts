import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatedWorker, WorkerView } from "../shared/schemas/worker.js";
import { startFakePolar, type FakePolar } from "./fakes/polar.js";
import { api } from "./support/api.js";
import { signUp, socketTransport } from "./support/http.js";
import { startTestKiln, type TestKiln } from "./support/kiln.js";
import { rivetClient } from "./support/rivet.js";
import { keys } from "../shared/keys.js";

describe("the Polar paywall on cloud workers", () => {
  let polar: FakePolar;
  let kiln: TestKiln;

  beforeAll(async () => {
    polar = await startFakePolar();
    kiln = await startTestKiln({
      env: {
        POLAR_FEATURE_GATE_ENABLED: "true",
        POLAR_ACCESS_TOKEN: polar.accessToken,
        POLAR_PRODUCT_ID: polar.productId,
        POLAR_BENEFIT_ID: polar.benefitId,
        POLAR_SUCCESS_URL: "https://app.example.com/billing/success",
        POLAR_RETURN_URL: "https://app.example.com/billing",
        POLAR_SERVER_URL: polar.serverURL,
      },
    });
  });
  afterAll(async () => {
    await kiln?.stop();
    await polar?.close();
  });

  async function user() {
    const u = await signUp(socketTransport(kiln.url));
    return { u, A: api(socketTransport(kiln.url), u.token) };
  }

  it("answers 402 with a real checkout, and creates no worker, without the benefit", async () => {
    const { u, A } = await user();
    const res = await A.post<{ error: string; polar: { checkoutUrl: string; productId: string; benefitId: string } }>("/v1/workers", { name: "paid", destination: "cloud" });
    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({ error: "payment_required", polar: { productId: polar.productId, benefitId: polar.benefitId } });
    expect((await fetch(res.body.polar.checkoutUrl)).status).toBe(200);
    expect(polar.state.checkouts.at(-1)?.body).toMatchObject({ external_customer_id: u.user.id, customer_email: u.user.email });
    expect((await A.get<{ workers: WorkerView[] }>("/v1/workers")).body.workers).toEqual([]);
  });

  it("cannot be skipped by asking the organization directly: creating a worker is Kiln's own call", async () => {
    const { u, A } = await user();
    const client = rivetClient(kiln.url, u.token);
    try {
      const org = client.organization.get(keys.organization(`personal-${u.user.id}`), { params: { token: u.token } });
      await expect(org.createWorker({ name: "free", destination: "cloud" })).rejects.toMatchObject({ code: "forbidden" });
    } finally {
      await client.dispose();
    }
    expect((await A.get<{ workers: WorkerView[] }>("/v1/workers")).body.workers).toEqual([]);
  });

  it("lets a user holding the benefit (by user id) create a cloud worker", async () => {
    const { u, A } = await user();
    polar.grantBenefit({ externalId: u.user.id });
    const res = await A.post<CreatedWorker>("/v1/workers", { name: "paid", destination: "cloud" });
    expect(res.status).toBe(202);
    expect(res.body.worker.status).toBe("provisioning");
  });

  it("finds the benefit by email when the customer has no external id", async () => {
    const { u, A } = await user();
    polar.grantBenefit({ email: u.user.email });
    expect((await A.post("/v1/workers", { name: "by-email", destination: "cloud" })).status).toBe(202);
  });

  it("fails closed with 503 billing_unavailable when Polar is down, creating nothing", async () => {
    const { A } = await user();
    polar.setOutage("http_503");
    try {
      const res = await A.post("/v1/workers", { name: "down", destination: "cloud" });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: "billing_unavailable" });
      expect((await A.get<{ workers: WorkerView[] }>("/v1/workers")).body.workers).toEqual([]);
    } finally {
      polar.setOutage(null);
    }
  });

  it("remembers an entitlement briefly, but never a refusal: a user who just paid gets in at once", async () => {
    const { u, A } = await user();
    expect((await A.post("/v1/workers", { name: "before", destination: "cloud" })).status).toBe(402);
    polar.grantBenefit({ externalId: u.user.id });
    expect((await A.post("/v1/workers", { name: "paid", destination: "cloud" })).status).toBe(202);
    polar.resetCalls();
    expect((await A.post("/v1/workers", { name: "again", destination: "cloud" })).status).toBe(202);
    expect(polar.callCount()).toBe(0);
  });

  it("never asks Polar about local workers", async () => {
    const { A } = await user();
    polar.resetCalls();
    expect((await A.post("/v1/workers", { name: "laptop", destination: "local", workspacePath: "/code" })).status).toBe(201);
    expect(polar.callCount()).toBe(0);
  });
});
