// Loaded with `node --import` into a spawned test Kiln: sends better-auth's fixed GitHub sign-in
// URLs (https://github.com, https://api.github.com) to the fake GitHub named by KILN_TEST_GITHUB_FAKE.
const fake = process.env.KILN_TEST_GITHUB_FAKE;
if (fake) {
  const real = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const m = /^https:\/\/(api\.)?github\.com(\/.*)$/.exec(url);
    if (!m) return real(input, init);
    const req = input instanceof Request ? input : undefined;
    return real(`${fake}${m[2]}`, req ? { method: req.method, headers: req.headers, body: req.body, duplex: "half", ...init } : init);
  };
}
